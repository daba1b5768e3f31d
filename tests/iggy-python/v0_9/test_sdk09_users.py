"""Users, permissions and personal access tokens through Apache Iggy's Python SDK 0.9.0 (the
0.11 wire): users created, read, renamed, given permissions, their passwords changed, deleted;
what a user may do is what it was given; a token (made with the SDK's raw request, which its
API has no call for) logs in through a connection string's auto-login and stops working once
deleted."""

import struct
import uuid

import pytest
from apache_iggy import (
    GlobalPermissions,
    IggyClient,
    Permissions,
    UserStatus,
)

pytestmark = pytest.mark.asyncio

CREATE_PERSONAL_ACCESS_TOKEN, DELETE_PERSONAL_ACCESS_TOKEN = 42, 43


def short(text):
    data = text.encode()
    return bytes([len(data)]) + data


async def login(server, transport, user, password):
    address = server.tcp if transport == "tcp" else server.ws
    scheme = "iggy+tcp" if transport == "tcp" else "iggy+ws"
    client = IggyClient.from_connection_string(f"{scheme}://{user}:{password}@{address}")
    await client.connect()
    return client


async def test_users_get_what_they_were_given_and_lose_it_when_deleted(connect, server, transport):
    root = await connect()
    name = f"u{uuid.uuid4().hex[:8]}"
    readers = Permissions(GlobalPermissions(read_streams=True))
    created = await root.create_user(name, "secret-1", UserStatus.Active, readers)
    assert created.username == name
    got = await root.get_user(name)
    assert got is not None and got.id == created.id
    assert name in [u.username for u in await root.get_users()]

    user = await login(server, transport, name, "secret-1")
    await user.get_streams()
    with pytest.raises(RuntimeError):
        await user.create_stream(f"by-{name}")

    await root.update_permissions(name, Permissions(GlobalPermissions(manage_streams=True)))
    await root.change_password(name, "secret-1", "secret-2")
    with pytest.raises(RuntimeError):
        await login(server, transport, name, "secret-1")
    writer = await login(server, transport, name, "secret-2")
    stream = f"by-{name}"
    await writer.create_stream(stream)

    # A token of this user: its connection string logs in, until the token is deleted.
    raw = await writer.send_binary_request(
        CREATE_PERSONAL_ACCESS_TOKEN, short("py-token") + struct.pack("<Q", 0))
    token = raw[1:1 + raw[0]].decode()
    address = server.tcp if transport == "tcp" else server.ws
    scheme = "iggy+tcp" if transport == "tcp" else "iggy+ws"
    by_token = IggyClient.from_connection_string(f"{scheme}://{token}@{address}")
    await by_token.connect()
    assert (await by_token.get_stream(stream)).name == stream
    await writer.send_binary_request(DELETE_PERSONAL_ACCESS_TOKEN, short("py-token"))
    late = IggyClient.from_connection_string(f"{scheme}://{token}@{address}")
    with pytest.raises(RuntimeError):
        await late.connect()
        await late.get_streams()

    await root.update_user(name, f"{name}-2")
    assert await root.get_user(f"{name}-2") is not None
    await root.delete_stream(stream)
    await root.delete_user(f"{name}-2")
    assert await root.get_user(f"{name}-2") is None
    with pytest.raises(RuntimeError):
        await login(server, transport, f"{name}-2", "secret-2")
