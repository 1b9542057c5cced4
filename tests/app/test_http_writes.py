"""A response leaves `longtrust serve`'s HTTP protocol (app.tls, the class uvicorn runs) in one
write: uvicorn's own protocol, fed a real request, hands the transport the head and the body, and
app/http_writes.py sends them together; the bytes and their order are unchanged."""

from __future__ import annotations

import asyncio

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from app.http_writes import HeadWithBody
from app.tls import HttpToolsPeerProtocol

REQUEST = b"GET /x HTTP/1.1\r\nHost: test\r\n\r\n"


class Transport:
    """What uvicorn's protocol calls on a socket transport; writes are recorded, one list per call."""

    def __init__(self):
        self.calls: list[list[bytes]] = []
        self.closed = False

    def write(self, data):
        self.calls.append([bytes(data)])

    def writelines(self, parts):
        self.calls.append([bytes(p) for p in parts])

    def close(self):
        self.closed = True

    def is_closing(self):
        return self.closed

    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def pause_reading(self):
        pass

    def resume_reading(self):
        pass


def answer(app, request: bytes = REQUEST) -> Transport:
    """The transport's record after ``app`` answered ``request`` on uvicorn's protocol."""

    async def run():
        config = Config(app, http=HttpToolsPeerProtocol, log_config=None, lifespan="off")
        protocol = HttpToolsPeerProtocol(config, ServerState(), {}, asyncio.get_running_loop())
        transport = Transport()
        protocol.connection_made(transport)
        protocol.data_received(request)
        async with asyncio.timeout(10):
            while protocol.cycle is None or not protocol.cycle.response_complete:
                await asyncio.sleep(0)
        await asyncio.sleep(0)  # a held head is written on the loop's next turn
        protocol.connection_lost(None)
        return transport

    return asyncio.run(run())


def responding(*bodies: bytes, pause: bool = False):
    async def app(scope, receive, send):
        length = sum(map(len, bodies))
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % length)]}
        )
        for i, body in enumerate(bodies):
            if pause:
                await asyncio.sleep(0.01)
            await send({"type": "http.response.body", "body": body, "more_body": i < len(bodies) - 1})

    return app


def test_a_small_response_is_one_write_of_head_and_body():
    transport = answer(responding(b'{"status":"ok"}'))
    assert len(transport.calls) == 1
    head, body = transport.calls[0]
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n")
    assert body == b'{"status":"ok"}'


def test_a_head_not_followed_in_the_same_turn_goes_out_first_and_alone():
    transport = answer(responding(b"part one, ", b"part two", pause=True))
    written = b"".join(b"".join(call) for call in transport.calls)
    assert transport.calls[0][0].startswith(b"HTTP/1.1 200 OK") and len(transport.calls[0]) == 1
    assert written.endswith(b"\r\n\r\npart one, part two")


HEAD = b"HTTP/1.1 200 OK\r\n\r\n"


@pytest.fixture
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def holding(loop) -> tuple[Transport, HeadWithBody]:
    """A recording transport and its wrapper, which holds a response head written to it."""
    transport = Transport()
    wrapped = HeadWithBody(transport, loop)
    wrapped.write(HEAD)
    assert transport.calls == []
    return transport, wrapped


@pytest.mark.parametrize("data", [b"body without a head\r\n\r\n", b"HTTP/1.1 200 OK\r\nx: y"])
def test_other_writes_pass_straight_through(data, loop):
    transport = Transport()
    HeadWithBody(transport, loop).write(data)
    assert transport.calls == [[data]]


def test_closing_writes_a_held_head_first(loop):
    transport, wrapped = holding(loop)
    wrapped.close()
    assert transport.calls == [[HEAD]] and transport.closed
    loop.run_until_complete(asyncio.sleep(0))  # the scheduled flush finds nothing left to write
    assert len(transport.calls) == 1


def test_a_held_head_is_dropped_when_the_connection_is_lost_before_it_goes_out(loop):
    transport, _ = holding(loop)
    transport.closed = True  # the peer reset the connection before the next turn of the loop
    loop.run_until_complete(asyncio.sleep(0))
    assert transport.calls == []


def test_writelines_after_a_held_head_keeps_the_order(loop):
    transport, wrapped = holding(loop)
    wrapped.writelines([b"a", b"b"])
    assert b"".join(b"".join(call) for call in transport.calls) == HEAD + b"ab"
