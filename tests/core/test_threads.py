"""The sync/async boundary: blocking work leaves the loop's thread; coroutines run from sync code."""

from __future__ import annotations

import asyncio
import threading

import pytest

from core.threads import in_thread, run_sync


async def _thread_name() -> str:
    return threading.current_thread().name


def test_in_thread_runs_off_the_loop_thread_and_passes_results_and_errors():
    async def main():
        loop_thread = threading.get_ident()
        assert await in_thread(threading.get_ident) != loop_thread
        assert await in_thread(divmod, 7, 2) == (3, 1)
        with pytest.raises(ZeroDivisionError):
            await in_thread(divmod, 1, 0)

    asyncio.run(main())


def test_run_sync_works_outside_and_inside_a_running_loop():
    assert run_sync(_thread_name) == threading.current_thread().name

    async def main():
        return run_sync(_thread_name)  # a sync call made from async code must not re-enter the loop

    assert asyncio.run(main()).startswith("run-sync")
