"""Calls that form one batch of a BatchThreads."""

from __future__ import annotations

import asyncio
import threading

from core.threads import BatchThreads, in_thread


def in_one_batch(calls: BatchThreads, *call_args) -> list:
    """Results (or exceptions) of ``calls.call(*a)`` for each ``a``, all made while a first call
    holds the thread, so that they form one batch."""
    holding, release = threading.Event(), threading.Event()

    def hold():
        holding.set()
        assert release.wait(30)

    async def main():
        first = asyncio.ensure_future(calls.call(hold))
        assert await in_thread(holding.wait, 30)
        rest = [asyncio.ensure_future(calls.call(*a)) for a in call_args]
        await asyncio.sleep(0)  # one turn of the loop: every call above is now waiting
        release.set()
        await first
        return await asyncio.wait_for(asyncio.gather(*rest, return_exceptions=True), 30)

    return asyncio.run(main())
