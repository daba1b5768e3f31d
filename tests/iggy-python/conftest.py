"""Starts one eddy-server (the release binary, EDDY_SERVER or target/release/eddy-server) for the
whole session on free ports with a fresh data directory, and gives each test a logged-in
client of Apache Iggy's Python SDK over TCP and over WebSocket. Shared by the suites of both
SDK versions (v0_8: apache-iggy 0.8.0, the 0.8 wire; v0_9: apache-iggy 0.9.0, the 0.11
wire); each runs with its own SDK on the path, against the same ports."""

import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PASSWORD = "py-interop-secret"


class Server:
    def __init__(self):
        binary = os.environ.get("EDDY_SERVER", str(ROOT / "target/release/eddy-server"))
        self.data_dir = tempfile.mkdtemp(prefix="eddy-python-")
        env = {k: v for k, v in os.environ.items() if not k.startswith("EDDY_")}
        env["RUST_LOG"] = "info"
        self.proc = subprocess.Popen(
            [binary, "--data-dir", self.data_dir, "--tcp-address", "127.0.0.1:0",
             "--ws-address", "127.0.0.1:0", "--root-password", PASSWORD, "--shards", "2"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.tcp = self.ws = None
        deadline = time.monotonic() + 30
        while (self.tcp is None or self.ws is None) and time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            found = re.search(r"addr=(\S+)", line)
            if found and "TCP listening" in line:
                self.tcp = found.group(1)
            elif found and "WebSocket listening" in line:
                self.ws = found.group(1)
        assert self.tcp and self.ws, "eddy-server reported its addresses"
        # Keep draining its output so it never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture(params=["tcp", "ws"])
def transport(request):
    return request.param


@pytest.fixture
def connect(server, transport):
    """Returns an async function giving a new connected, logged-in client."""
    from apache_iggy import IggyClient

    async def make():
        if transport == "tcp":
            client = IggyClient(server.tcp)
            await client.connect()
            await client.login_user("iggy", PASSWORD)
        else:
            client = IggyClient.from_connection_string(f"iggy+ws://iggy:{PASSWORD}@{server.ws}")
            await client.connect()
        return client

    return make
