"""`longtrust serve --workers 2`: each worker listens on a socket of its own, so the kernel spreads a
client's connections over both; a worker that dies is replaced and no connection waits on its
socket; a port in use stops the start with uvicorn's start-up failure status."""

from __future__ import annotations

import os
import signal
import socket
from collections import Counter
from pathlib import Path

import psutil
import pytest

from tests.e2e.processes import Process, cli, environment, free_port, run_cli, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CONNECTIONS = 32


def _listening(port: int) -> set[int]:
    """Inodes of the sockets listening on 127.0.0.1:``port`` (/proc/net/tcp, state 0A)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == f"0100007F:{port:04X}" and fields[3] == "0A":
            found.add(int(fields[9]))
    return found


def _two(sockets: set[int]) -> set[int] | None:
    return sockets if len(sockets) == 2 else None


def _connect_all(port: int) -> list[socket.socket]:
    """``CONNECTIONS`` keep-alive connections, each answered once (a pool's connections)."""
    connections = []
    for _ in range(CONNECTIONS):
        connection = socket.create_connection(("127.0.0.1", port), timeout=10)
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        assert connection.recv(4096).startswith(b"HTTP/1.1 200"), "a connection was not answered"
        connections.append(connection)
    return connections


def _owners(server: Process, connections: list[socket.socket]) -> Counter:
    """{worker pid: how many of ``connections`` it holds}."""
    ours = {c.getsockname()[1] for c in connections}
    owners = Counter()
    for child in psutil.Process(server.proc.pid).children(recursive=True):
        for held in child.net_connections("tcp"):
            if held.status == "ESTABLISHED" and held.laddr.port == server.port and held.raddr.port in ours:
                owners[child.pid] += 1
    return owners


def test_each_worker_listens_on_its_own_socket_and_a_dead_one_is_replaced(tmp_path):
    data = tmp_path / "data"
    env = environment(data, None)
    cli("init", env=env)
    server = Process(["serve", "--workers", "2"], env, free_port(), tmp_path / "server.log").start()
    try:
        # Each worker listens once its application has started (the first may answer before the
        # second listens); uvicorn alone gives both workers one socket, so this would never hold.
        first = wait_for(lambda: _two(_listening(server.port)), 60, "a socket for each worker")
        connections = _connect_all(server.port)
        owners = _owners(server, connections)
        # The kernel spreads them by a hash of their addresses: fewer than 4 of 32 on one worker
        # has a chance of about one in a million.
        assert len(owners) == 2 and min(owners.values()) >= 4, owners
        for connection in connections:
            connection.close()
        busiest = owners.most_common(1)[0][0]
        os.kill(busiest, signal.SIGKILL)

        def replaced() -> set[int] | None:  # the survivor's socket and the new worker's
            found = _two(_listening(server.port))
            return found if found and len(found & first) == 1 else None

        wait_for(replaced, 60, "a new worker listening in place of the killed one")
        for connection in _connect_all(server.port):  # none waits on the dead worker's socket
            connection.close()
    finally:
        server.stop()


def test_a_port_in_use_stops_the_start(tmp_path):
    data = tmp_path / "data"
    env = environment(data, None)
    cli("init", env=env)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli("serve", "--workers", "2", "--port", str(port), env=env)
    assert done.returncode == 3
    assert f"cannot bind 127.0.0.1:{port}" in done.stdout + done.stderr
