"""Worker processes that each listen on a socket of their own (``longtrust serve --workers N``), and
what every served process does once its application is built (:func:`freeze_startup_heap`).

uvicorn's supervisor binds one socket and hands it to every worker: all of them accept from it,
and the one that wakes first takes the connection. A client that keeps a few connections alive (an
approval system's or a verifier's pool) then often has all of them on one worker while the other
idles: with 8 connections, splits of 8/0 and 7/1 were the rule, and PDF verification ran at half
the machine (README, Performance). Here each worker binds a socket of its own on the port with
``SO_REUSEPORT`` (Linux 3.9 and later), and the kernel spreads new connections over the listening
sockets by a hash of their addresses, as nginx's ``listen ... reuseport`` does.

The socket is made in the worker itself: uvicorn's supervisor passes its sockets to each worker it
starts (and restarts) by pickling them, and what it is given here unpickles, in the worker, as a
newly bound socket. So the supervisor holds no listening socket (a connection hashed to one that
no worker accepts from would wait forever); it only reserves the port with a bound socket that does
not listen. A worker that ends takes its socket with it, and connections it had not yet accepted
are reset; the kernel sends new ones to the others until its replacement listens. As with any
``SO_REUSEPORT`` listener, another process of the same user could bind the port too.
"""

from __future__ import annotations

import gc
import logging
import socket
import sys

from uvicorn import Config
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

logger = logging.getLogger("uvicorn.error")


def run_workers(config: Config) -> None:
    """Serve ``config`` (``config.workers`` > 1, host and port) with uvicorn's supervisor, each
    worker on a socket of its own; exits with uvicorn's start-up failure status when the port
    cannot be bound."""
    try:
        reserved = _bound(config.host, config.port)
    except OSError as exc:
        logger.error("cannot bind %s:%s: %s", config.host, config.port, exc)
        sys.exit(STARTUP_FAILURE)
    with reserved:
        port = reserved.getsockname()[1]
        Multiprocess(config, sockets=[_OwnSocket(config.host, port)]).run()


class _OwnSocket:
    """Stands for the listening socket in what the supervisor gives a worker: unpickled in the
    worker, it is a socket bound there (``_bound``), which the worker's server then listens on."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port

    def __reduce__(self):
        return _bound, (self.host, self.port)


def _bound(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) with SO_REUSEADDR and SO_REUSEPORT, not listening."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def freeze_startup_heap() -> None:
    """Puts every object alive once a served process has built its application (modules, the app,
    its services: about 160,000 objects in a LongTrust worker) out of the cyclic garbage collector's
    reach (``gc.freeze``, after a last collection). They live as long as the process, yet each full
    collection walked them all: under load a worker collected its oldest generation every few
    seconds, for 150-230 ms each time, and the requests it held waited (p99 of license verification
    170 ms at a p50 of 13 ms). Frozen objects are still freed when their reference counts drop."""
    gc.collect()
    gc.freeze()
