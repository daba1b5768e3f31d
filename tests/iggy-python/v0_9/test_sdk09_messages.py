"""Apache Iggy's Python SDK 0.9.0 (the 0.11 wire of Iggy 0.9: it embeds the Rust SDK 0.11.0)
against eddy-server over TCP and WebSocket, on the same ports as the 0.8.0 suite: login,
streams and topics, messages with ids and user headers sent (with their confirmations) and
polled back with every strategy, consumer offsets through its consumer, and consumer groups
through its high-level consumer."""

import asyncio
import datetime
import struct
import uuid

import pytest
from apache_iggy import (
    AutoCommit,
    AutoCommitWhen,
    Consumer,
    PollingStrategy,
    SendMessage,
)

pytestmark = pytest.mark.asyncio

PARTITIONS = 3
GET_CONSUMER_OFFSET = 120


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def poll(client, stream, topic, partition, strategy, count, auto_commit=False, consumer=None):
    return await client.poll_messages(
        stream, topic,
        consumer=consumer or Consumer.Single("py09"),
        polling_strategy=strategy, count=count, auto_commit=auto_commit,
        partition_id=partition)


async def topic_with_messages(client, per_partition):
    """A new stream with a 3-partition topic; partition p holds `p:i` (id p*1000+i+1, header
    `n` = i) for i < per_partition. Checks each batch's confirmation."""
    stream, topic = unique("s"), "events"
    await client.create_stream(stream)
    await client.create_topic(stream, topic, PARTITIONS)
    for p in range(PARTITIONS if per_partition else 0):
        batch = [SendMessage(f"{p}:{i}", user_headers={"n": str(i)}, id=p * 1000 + i + 1)
                 for i in range(per_partition)]
        sent = await client.send_messages(stream, topic, p, batch)
        assert [(c.partition_id, c.base_offset) for c in sent.confirmations] == [(p, 0)]
    return stream, topic


async def test_a_wrong_password_is_refused_and_the_client_can_log_in_after(server, transport):
    from apache_iggy import IggyClient
    from conftest import PASSWORD
    if transport == "tcp":
        client = IggyClient(server.tcp)
        await client.connect()
        await client.ping()
        with pytest.raises(RuntimeError):
            await client.login_user("iggy", "not-the-password")
        await client.login_user("iggy", PASSWORD)
    else:
        wrong = IggyClient.from_connection_string(f"iggy+ws://iggy:not-the-password@{server.ws}")
        with pytest.raises(RuntimeError):
            await wrong.connect()
            await wrong.get_streams()
        client = IggyClient.from_connection_string(f"iggy+ws://iggy:{PASSWORD}@{server.ws}")
        await client.connect()
    await client.ping()
    assert (await client.get_stats()).streams_count >= 0


async def test_streams_and_topics_are_created_described_updated_and_deleted(connect):
    client = await connect()
    stream = unique("catalog")
    await client.create_stream(stream)
    details = await client.get_stream(stream)
    assert details is not None and details.name == stream and details.topics_count == 0
    await client.create_topic(stream, "t", PARTITIONS)
    topic = await client.get_topic(stream, "t")
    assert topic.name == "t" and topic.partitions_count == PARTITIONS
    assert (await client.get_stream(stream)).topics_count == 1
    assert [t.name for t in await client.get_topics(stream)] == ["t"]
    assert stream in [s.name for s in await client.get_streams()]
    assert await client.get_stream(unique("missing")) is None
    assert await client.get_topic(stream, "missing") is None
    with pytest.raises(RuntimeError):
        await client.create_stream(stream)  # the name is taken
    await client.update_topic(stream, "t", "t2")
    assert (await client.get_topic(stream, "t2")).partitions_count == PARTITIONS
    await client.delete_topic(stream, "t2")
    await client.delete_stream(stream)
    assert await client.get_stream(stream) is None


async def test_sent_messages_come_back_with_every_strategy(connect):
    client = await connect()
    stream, topic = await topic_with_messages(client, 20)
    assert (await client.get_topic(stream, topic)).messages_count == 20 * PARTITIONS
    first = await poll(client, stream, topic, 1, PollingStrategy.First(), 5)
    assert [m.payload().decode() for m in first] == [f"1:{i}" for i in range(5)]
    assert [m.offset() for m in first] == list(range(5))
    assert [m.id() for m in first] == [1001 + i for i in range(5)]
    assert [m.user_headers().to_scalar_dict()["n"] for m in first] == [str(i) for i in range(5)]
    assert all(m.partition_id() == 1 for m in first)
    at = await poll(client, stream, topic, 2, PollingStrategy.Offset(17), 10)
    assert [m.payload().decode() for m in at] == ["2:17", "2:18", "2:19"]
    last = await poll(client, stream, topic, 0, PollingStrategy.Last(), 2)
    assert [m.offset() for m in last] == [18, 19]
    one = await poll(client, stream, topic, 0, PollingStrategy.Next(), 7, True)
    two = await poll(client, stream, topic, 0, PollingStrategy.Next(), 7, True)
    assert [m.offset() for m in one + two] == list(range(14))
    ts = first[3].timestamp()
    since = await poll(client, stream, topic, 1, PollingStrategy.Timestamp(ts), 1)
    assert since[0].timestamp() >= ts and since[0].offset() <= 3
    assert all(m.timestamp() >= m.origin_timestamp() > 0 for m in first)
    assert await poll(client, stream, topic, 1, PollingStrategy.Offset(1000), 5) == []


async def test_an_empty_batch_is_refused_and_the_connection_stays_usable(connect):
    client = await connect()
    stream, topic = await topic_with_messages(client, 1)
    with pytest.raises(Exception):
        await client.send_messages(stream, topic, 0, [])
    await client.ping()
    assert len(await poll(client, stream, topic, 0, PollingStrategy.First(), 5)) == 1


async def take(consumer, seen, idle):
    """Takes messages from `consumer` until none comes for `idle` seconds."""
    iterator = consumer.iter_messages()
    while True:
        try:
            message = await asyncio.wait_for(iterator.__anext__(), idle)
        except (asyncio.TimeoutError, StopAsyncIteration):
            return
        seen.append((message.partition_id(), message.payload().decode()))


async def test_a_consumer_group_shares_the_topic_and_each_message_comes_once(connect):
    producer = await connect()
    stream, topic = await topic_with_messages(producer, 0)
    group = unique("workers")
    members = []
    for _ in range(2):
        client = await connect()
        consumer = await client.consumer_group(
            group, stream, topic,
            polling_strategy=PollingStrategy.Next(),
            batch_length=25,
            auto_commit=AutoCommit.When(AutoCommitWhen.PollingMessages()),
            poll_interval=datetime.timedelta(milliseconds=5),
        )
        members.append((client, consumer))
    for p in range(PARTITIONS):
        await producer.send_messages(stream, topic, p, [SendMessage(f"{p}:{i}") for i in range(100)])
    seen = [[], []]
    deadline = asyncio.get_running_loop().time() + 30
    while sum(map(len, seen)) < 300 and asyncio.get_running_loop().time() < deadline:
        for i, (_, consumer) in enumerate(members):
            await take(consumer, seen[i], 0.3)
    everything = [payload for share in seen for _, payload in share]
    assert sorted(everything) == sorted(f"{p}:{i}" for p in range(PARTITIONS) for i in range(100))
    parts = [{p for p, _ in share} for share in seen]
    assert parts[0] and parts[1], "both members took a share"
    assert not parts[0] & parts[1], f"a partition read by both members: {parts}"
    for p, payload in seen[0] + seen[1]:
        assert payload.startswith(f"{p}:"), "the partition the SDK reports is the message's"


def stored_offset_request(group, stream, topic, partition):
    """GET_CONSUMER_OFFSET's body (the SDK has no call for it): group consumer, names, partition."""
    def name(text):
        data = text.encode()
        return bytes([2, len(data)]) + data
    return bytes([2]) + name(group) + name(stream) + name(topic) + bytes([1]) + struct.pack("<I", partition)


async def test_a_consumer_stores_and_deletes_its_offsets(connect):
    client = await connect()
    stream, topic = await topic_with_messages(client, 10)
    group = unique("offsets")
    consumer = await client.consumer_group(
        group, stream, topic,
        polling_strategy=PollingStrategy.Next(),
        batch_length=4,
        auto_commit=AutoCommit.Disabled(),
        poll_interval=datetime.timedelta(milliseconds=5),
    )
    seen = []
    first_batches = {(p, f"{p}:{i}") for p in range(PARTITIONS) for i in range(4)}
    deadline = asyncio.get_running_loop().time() + 20
    while not first_batches <= set(seen) and asyncio.get_running_loop().time() < deadline:
        await take(consumer, seen, 0.5)
    assert first_batches <= set(seen), seen
    for p in range(PARTITIONS):
        await consumer.store_offset(6, p)
        assert consumer.get_last_stored_offset(p) == 6
        raw = await client.send_binary_request(GET_CONSUMER_OFFSET, stored_offset_request(group, stream, topic, p))
        partition, current, stored = struct.unpack("<IQQ", raw)
        assert (partition, current, stored) == (p, 9, 6)
    for p in range(PARTITIONS):
        await consumer.delete_offset(p)
        raw = await client.send_binary_request(GET_CONSUMER_OFFSET, stored_offset_request(group, stream, topic, p))
        assert raw == b"", "no offset stored any more"
