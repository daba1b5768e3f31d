"""Users, permissions and personal access tokens seen through Apache Iggy's Python SDK
(apache-iggy 0.8.0). Its API cannot create users or tokens, so this file makes them with a few
raw 0.8-wire requests of its own (`Raw`, root over TCP); everything asserted is what the SDK
sees: a user's login by name and password and by connection string, a token's login by
connection string (its auto-login), the permission refusals the server answers, and a deleted
user's logins failing."""

import socket
import struct
import uuid

import pytest
from apache_iggy import IggyClient, PollingStrategy, SendMessage

from conftest import PASSWORD

pytestmark = pytest.mark.asyncio

CREATE_USER, DELETE_USER, LOGIN_USER = 33, 34, 38
CREATE_PERSONAL_ACCESS_TOKEN = 42


def short(text):
    data = text.encode()
    return bytes([len(data)]) + data


def name_id(text):
    return bytes([2]) + short(text)


def read_stream_only(stream_id):
    """Iggy's permission layout: no global right; reading stream `stream_id` (its messages too)."""
    stream = struct.pack("<I", stream_id) + bytes([0, 1, 0, 0, 0, 0]) + bytes([0]) + bytes([0])
    return bytes(10) + bytes([1]) + stream


class Raw:
    """A blocking 0.8-wire connection: `[len u32][code u32][payload]` out, `[status][len][body]` in."""

    def __init__(self, address, user, password):
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=20)
        status, _ = self.request(LOGIN_USER, short(user) + short(password) + bytes(8))
        assert status == 0, f"{user} logs in over the raw connection"

    def request(self, code, payload):
        self.sock.sendall(struct.pack("<II", len(payload) + 4, code) + payload)
        status, length = struct.unpack("<II", self._exact(8))
        return status, self._exact(length)

    def _exact(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            assert chunk, "the server closed the connection"
            out += chunk
        return out

    def close(self):
        self.sock.close()


async def test_a_user_logs_in_with_the_sdk_and_gets_only_what_it_was_given(server, transport):
    root = IggyClient(server.tcp)
    await root.connect()
    await root.login_user("iggy", PASSWORD)
    readable, other = f"r-{uuid.uuid4().hex[:8]}", f"o-{uuid.uuid4().hex[:8]}"
    for stream in (readable, other):
        await root.create_stream(stream)
        await root.create_topic(stream, "t", 1)
        await root.send_messages(stream, "t", 0, [SendMessage("hello")])
    stream_id = (await root.get_stream(readable)).id

    user, password = f"u{uuid.uuid4().hex[:8]}", "user-secret"
    raw = Raw(server.tcp, "iggy", PASSWORD)
    permissions = read_stream_only(stream_id)
    create = short(user) + short(password) + bytes([1, 1]) + struct.pack("<I", len(permissions))
    status, _ = raw.request(CREATE_USER, create + permissions)
    assert status == 0

    # Logged in by name and password (TCP), or by connection string (either transport).
    if transport == "tcp":
        client = IggyClient(server.tcp)
        await client.connect()
        await client.login_user(user, password)
    else:
        client = IggyClient.from_connection_string(f"iggy+ws://{user}:{password}@{server.ws}")
        await client.connect()
    assert (await client.get_stream(readable)).name == readable
    polled = await client.poll_messages(readable, "t", 0, PollingStrategy.Offset(0), 10, False)
    assert [m.payload() for m in polled] == [b"hello"]
    with pytest.raises(RuntimeError, match="Unauthorized"):
        await client.get_stream(other)
    with pytest.raises(RuntimeError, match="Unauthorized"):
        await client.send_messages(readable, "t", 0, [SendMessage("no")])
    with pytest.raises(RuntimeError, match="Unauthorized"):
        await client.create_stream(f"x-{uuid.uuid4().hex[:8]}")
    assert (await root.get_topic(readable, "t")).messages_count == 1, "nothing was written"

    # A personal access token of the user logs in through the SDK's connection string.
    user_raw = Raw(server.tcp, user, password)
    status, body = user_raw.request(CREATE_PERSONAL_ACCESS_TOKEN, short("py-token") + bytes(8))
    assert status == 0
    token = body[1 : 1 + body[0]].decode()
    address = server.tcp if transport == "tcp" else server.ws
    scheme = "iggy+tcp" if transport == "tcp" else "iggy+ws"
    by_token = IggyClient.from_connection_string(f"{scheme}://{token}@{address}")
    await by_token.connect()
    assert (await by_token.get_stream(readable)).name == readable
    with pytest.raises(RuntimeError, match="Unauthorized"):
        await by_token.get_stream(other)

    # Deleted: its sessions lose their login, and neither its password nor its token works.
    status, _ = raw.request(DELETE_USER, name_id(user))
    assert status == 0
    # A connection-string client logs in again by itself when told it is unauthenticated, and
    # is refused: either answer means the session is gone.
    with pytest.raises(RuntimeError, match="Unauthenticated|InvalidCredentials"):
        await client.get_stream(readable)
    with pytest.raises(RuntimeError):
        again = IggyClient(server.tcp)
        await again.connect()
        await again.login_user(user, password)
    with pytest.raises(RuntimeError):
        gone = IggyClient.from_connection_string(f"{scheme}://{token}@{address}")
        await gone.connect()
        await gone.get_stream(readable)
    await root.ping()
    raw.close()
    user_raw.close()
