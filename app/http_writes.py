"""One socket write per HTTP response where uvicorn makes two.

uvicorn writes a response's status line and headers when the application sends
``http.response.start`` and the body when it sends ``http.response.body``: two ``send()`` calls and,
with TCP_NODELAY, two TCP segments for every small answer. On loopback each ``send()`` also runs the
receiver's side of the TCP stack, while the worker holds the GIL: for a pre-signed OCSP answer the
second write was about a twentieth of the worker's time (bench/bench_ocsp.py).

:class:`HeadWithBody` wraps the connection's transport: a write that is a complete response head
(it starts ``HTTP/`` and ends with the blank line) is held and goes out with the next write in one
``writelines`` call (one ``sendmsg`` with both buffers). A head that no write follows in the same
event-loop turn (a streamed response that awaits before its first chunk, a HEAD answer) is written
on the loop's next turn (unless the connection is closing by then); ``close()``, ``writelines`` and
``write_eof`` write a held head first, ``abort()`` drops it. Bytes and their order are unchanged.
"""

from __future__ import annotations

import asyncio

_HEAD_END = b"\r\n\r\n"


class HeadWithBody:
    """A transport (asyncio.WriteTransport) whose response heads leave with what follows them;
    every other method is the wrapped transport's."""

    def __init__(self, transport: asyncio.WriteTransport, loop: asyncio.AbstractEventLoop):
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        """Write ``data`` after any held head; hold ``data`` itself if it is a response head."""
        if self._head is not None:
            head, self._head = self._head, None
            self._transport.writelines((head, data))
        elif data.endswith(_HEAD_END) and data.startswith(b"HTTP/"):
            self._head = data
            self._loop.call_soon(self._flush)
        else:
            self._transport.write(data)

    def writelines(self, parts) -> None:
        self._flush()
        self._transport.writelines(parts)

    def _flush(self) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            if not self._transport.is_closing():  # a connection lost meanwhile takes no more writes
                self._transport.write(head)

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._head = None
        self._transport.abort()

    def __getattr__(self, name: str):
        return getattr(self._transport, name)
