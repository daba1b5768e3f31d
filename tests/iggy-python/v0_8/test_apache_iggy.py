"""Apache Iggy's Python SDK (apache-iggy 0.8.0, the 0.8 wire: it embeds the Rust SDK 0.10.0)
against eddy-server over TCP and WebSocket: streams, topics, sending and polling with every
strategy, and consumer groups through its high-level consumer. Users and tokens: see
test_users_and_tokens.py (its 0.8.0 API logs in with them but cannot create them)."""

import asyncio
import datetime
import uuid

import pytest
from apache_iggy import AutoCommit, AutoCommitWhen, PollingStrategy, SendMessage

pytestmark = pytest.mark.asyncio

PARTITIONS = 3


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def topic_with_messages(client, per_partition):
    """A new stream with a 3-partition topic; partition p holds `p:i` for i < per_partition."""
    stream, topic = unique("s"), "events"
    await client.create_stream(stream)
    await client.create_topic(stream, topic, PARTITIONS)
    for p in range(PARTITIONS if per_partition else 0):
        batch = [SendMessage(f"{p}:{i}") for i in range(per_partition)]
        await client.send_messages(stream, topic, p, batch)
    return stream, topic


async def test_an_empty_batch_is_refused_and_the_connection_stays_usable(connect):
    client = await connect()
    stream, topic = await topic_with_messages(client, 1)
    with pytest.raises(RuntimeError, match="InvalidMessagesCount"):
        await client.send_messages(stream, topic, 0, [])
    await client.ping()


async def test_streams_and_topics_are_created_and_described(connect):
    client = await connect()
    await client.ping()
    stream = unique("catalog")
    await client.create_stream(stream)
    details = await client.get_stream(stream)
    assert details is not None and details.name == stream and details.topics_count == 0
    await client.create_topic(stream, "t", PARTITIONS)
    topic = await client.get_topic(stream, "t")
    assert topic.name == "t" and topic.partitions_count == PARTITIONS
    assert (await client.get_stream(stream)).topics_count == 1
    assert await client.get_stream(unique("missing")) is None
    with pytest.raises(RuntimeError):
        await client.create_stream(stream)  # the name is taken


async def test_sent_messages_come_back_with_every_strategy(connect):
    client = await connect()
    stream, topic = await topic_with_messages(client, 20)
    assert (await client.get_topic(stream, topic)).messages_count == 20 * PARTITIONS
    first = await client.poll_messages(stream, topic, 1, PollingStrategy.First(), 5, False)
    assert [m.payload().decode() for m in first] == [f"1:{i}" for i in range(5)]
    assert [m.offset() for m in first] == list(range(5))
    at = await client.poll_messages(stream, topic, 2, PollingStrategy.Offset(17), 10, False)
    assert [m.payload().decode() for m in at] == ["2:17", "2:18", "2:19"]
    last = await client.poll_messages(stream, topic, 0, PollingStrategy.Last(), 2, False)
    assert [m.offset() for m in last] == [18, 19]
    # Next with auto-commit continues where the previous poll stopped.
    one = await client.poll_messages(stream, topic, 0, PollingStrategy.Next(), 7, True)
    two = await client.poll_messages(stream, topic, 0, PollingStrategy.Next(), 7, True)
    assert [m.offset() for m in one + two] == list(range(14))
    ts = first[3].timestamp()
    since = await client.poll_messages(stream, topic, 1, PollingStrategy.Timestamp(ts), 1, False)
    assert since[0].timestamp() >= ts and since[0].offset() <= 3
    assert all(m.checksum() != 0 and m.length() == len(m.payload()) for m in first)
    empty = await client.poll_messages(stream, topic, 1, PollingStrategy.Offset(1000), 5, False)
    assert empty == []


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
