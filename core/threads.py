"""The one boundary between blocking code and the event loop.

``in_thread`` runs blocking work (database, signing, parsing) from async code in a worker thread,
so the loop keeps serving; ``run_sync`` runs a coroutine to completion from sync code, also when
the caller is itself inside a running loop (then on a shared worker thread with its own loop).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import anyio.to_thread

T = TypeVar("T")


async def in_thread(fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn(*args, **kwargs)`` in a worker thread of the running loop's pool; its result or exception."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


def run_sync(make_coro: Callable[[], Awaitable[T]]) -> T:
    """The result of the coroutine ``make_coro()`` run to completion from synchronous code.

    Outside an event loop it runs here (``asyncio.run``); inside one (a sync function called from
    async code) it runs on a thread of its own, since a loop cannot be re-entered (a thread per
    call, so nested bridges never wait on each other for a worker)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        in_loop = False
    else:
        in_loop = True
    if not in_loop:  # outside the except block, so no exception context leaks into logged tracebacks
        return asyncio.run(make_coro())
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-sync") as pool:
        return pool.submit(lambda: asyncio.run(make_coro())).result()
