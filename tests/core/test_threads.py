"""The sync/async boundary: blocking work leaves the loop's thread; coroutines run from sync code."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import inspect
import threading
import time
import weakref

import pytest

from core.threads import BatchThreads, in_thread, run_sync
from tests.core.batches import in_one_batch


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


def test_run_sync_keeps_one_loop_per_thread_and_isolates_each_call():
    marker = contextvars.ContextVar("marker", default="unset")
    cancelled = []

    async def loop_and_marker():
        seen = marker.get()
        marker.set("inside")  # stays in the call's own copy of the context
        return asyncio.get_running_loop(), seen

    async def leaves_a_task():
        async def forever():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled.append(True)
                raise

        asyncio.get_running_loop().create_task(forever())
        await asyncio.sleep(0)  # it has started

    async def fails():
        raise ZeroDivisionError

    marker.set("first")
    loop, seen = run_sync(loop_and_marker)
    assert seen == "first" and marker.get() == "first"
    marker.set("second")
    assert run_sync(loop_and_marker) == (loop, "second")  # the same loop, the caller's context now
    run_sync(leaves_a_task)
    assert cancelled == [True] and not asyncio.all_tasks(loop)
    with pytest.raises(ZeroDivisionError):
        run_sync(fails)
    other = []
    thread = threading.Thread(target=lambda: other.append(run_sync(loop_and_marker)[0]))
    thread.start()
    thread.join()
    assert other[0] is not loop and not loop.is_closed()


def test_batch_threads_answer_each_call_with_its_own_result_or_error_in_its_own_context():
    marker = contextvars.ContextVar("marker")
    batches = BatchThreads(threads=1, name="test-batch")

    async def one(i):
        marker.set(i)
        return await batches.call(lambda: (marker.get(), threading.current_thread().name))

    async def main():
        answers = await asyncio.gather(*(one(i) for i in range(5)))
        assert answers == [(i, "test-batch") for i in range(5)]
        assert await batches.call(divmod, 7, 2) == (3, 1)
        with pytest.raises(ZeroDivisionError):
            await batches.call(divmod, 1, 0)

    asyncio.run(main())


def test_calls_that_arrive_while_a_batch_runs_form_the_next_batch_in_their_order():
    batches_seen: list[list[int]] = []
    first_running, go_on = threading.Event(), threading.Event()

    @contextlib.contextmanager
    def batch():
        batches_seen.append([])
        yield

    def work(i):
        batches_seen[-1].append(i)
        if i == 0:
            first_running.set()
            assert go_on.wait(30)
        return i

    async def main():
        calls = BatchThreads(batch, threads=1)
        first = asyncio.ensure_future(calls.call(work, 0))
        assert await in_thread(first_running.wait, 30)
        rest = [asyncio.ensure_future(calls.call(work, i)) for i in range(1, 10)]
        await asyncio.sleep(0)  # one turn of the loop: every call above is now waiting
        go_on.set()
        return await asyncio.gather(first, *rest)

    assert asyncio.run(main()) == list(range(10))
    assert batches_seen == [[0], list(range(1, 10))]


def test_a_batch_that_fails_as_it_ends_fails_its_calls_but_a_failed_call_keeps_its_error():
    @contextlib.contextmanager
    def batch():
        yield
        raise RuntimeError("the batch's commit failed")

    def refuse():
        raise PermissionError("not allowed")

    async def main():
        calls = BatchThreads(batch, threads=1, answer_after_batch=True)
        return await asyncio.gather(calls.call(divmod, 7, 2), calls.call(refuse), return_exceptions=True)

    done, refused = asyncio.run(main())
    assert isinstance(done, RuntimeError) and isinstance(refused, PermissionError)


def test_idle_batch_threads_end_and_start_again_when_needed():
    calls = BatchThreads(threads=2, name="short-lived", idle_s=0.05)

    async def main():
        assert await calls.call(divmod, 9, 4) == (2, 1)
        (thread,) = [t for t in threading.enumerate() if t.name == "short-lived"]
        await in_thread(thread.join, 30)
        assert not thread.is_alive()  # it ended on its own, idle
        assert await calls.call(divmod, 9, 2) == (4, 1)

    asyncio.run(main())


def test_a_call_whose_loop_has_closed_does_not_stop_the_batch_thread():
    calls = BatchThreads(threads=1, name="outlives-a-loop")
    release = threading.Event()

    async def abandoned():
        asyncio.ensure_future(calls.call(release.wait, 30))
        await asyncio.sleep(0)  # the call is handed to the batch thread; its loop then closes

    asyncio.run(abandoned())
    release.set()

    async def later():
        return await asyncio.wait_for(calls.call(divmod, 9, 2), 30)

    assert asyncio.run(later()) == (4, 1)


def test_without_answer_after_batch_each_caller_is_answered_when_its_call_returns():
    second_may_end = threading.Event()

    def second():
        assert second_may_end.wait(30)
        return "second"

    async def main():
        calls = BatchThreads(threads=1)
        first_answer = asyncio.ensure_future(calls.call(str, "first"))
        second_answer = asyncio.ensure_future(calls.call(second))
        assert await asyncio.wait_for(first_answer, 30) == "first"  # while the second still runs
        second_may_end.set()
        return await second_answer

    assert asyncio.run(main()) == "second"


@pytest.mark.parametrize("after_batch", [False, True])
def test_a_call_raising_stop_iteration_fails_alone(after_batch):
    async def main():
        calls = BatchThreads(threads=1, answer_after_batch=after_batch)
        return await asyncio.wait_for(
            asyncio.gather(calls.call(next, iter(())), calls.call(str, "ok"), return_exceptions=True), 30
        )

    stopped, ok = asyncio.run(main())
    assert isinstance(stopped, RuntimeError) and ok == "ok"


def test_a_thread_that_cannot_start_fails_its_call_which_then_never_runs(monkeypatch):
    ran = []
    calls = BatchThreads(threads=1, name="cannot-start")

    def refuse_to_start(_thread):
        raise RuntimeError("can't start new thread")

    async def main():
        with monkeypatch.context() as patched:
            patched.setattr(threading.Thread, "start", refuse_to_start)
            with pytest.raises(RuntimeError, match="can't start"):
                await calls.call(ran.append, "refused")
        return await asyncio.wait_for(calls.call(ran.append, "later"), 30)

    asyncio.run(main())
    assert ran == ["later"]


def test_calls_in_steps_have_each_step_done_together_and_each_failure_goes_to_its_own_call():
    marker = contextvars.ContextVar("marker")
    done: list[list[str]] = []

    def together(units):
        done.append(units)
        return [ValueError(u) if u.startswith("bad") else None for u in units]

    def in_steps(name, steps):
        marker.set(name)
        outcome = []
        for step in range(steps):
            try:
                yield f"{name}.{step}"
            except ValueError as failed:
                outcome.append(f"failed {failed}")
            assert marker.get() == name  # every step runs in the call's own context
        return outcome or f"{name} done"

    answers = in_one_batch(
        BatchThreads(threads=1, together=together),
        (in_steps, "a", 2),
        (in_steps, "bad", 1),
        (in_steps, "c", 3),
        (divmod, 7, 2),
    )
    assert answers == ["a done", ["failed bad.0"], "c done", (3, 1)]
    assert done == [["a.0", "bad.0", "c.0"], ["a.1", "c.1"], ["c.2"]]


def test_a_step_that_cannot_be_done_together_fails_every_call_of_that_step():
    def together(units):
        raise ConnectionError("database gone")

    def in_steps(name):
        yield name
        return name

    answers = in_one_batch(BatchThreads(threads=1, together=together), (in_steps, "a"), (in_steps, "b"))
    assert [type(a) for a in answers] == [ConnectionError, ConnectionError]
    assert answers[0] is not answers[1]  # each request raises its own: tracebacks do not mix
    assert [a.args for a in answers] == [("database gone",)] * 2


def test_calls_cut_short_by_a_failed_batch_are_closed_at_once():
    closed = []

    def together(units):
        return [None]  # one answer for two units: the batch fails

    def in_steps(name):
        try:
            yield name
            yield name
        finally:
            closed.append(name)

    answers = in_one_batch(BatchThreads(threads=1, together=together), (in_steps, "a"), (in_steps, "b"))
    assert [type(a) for a in answers] == [ValueError, ValueError]
    assert sorted(closed) == ["a", "b"]


def test_an_idle_batch_thread_keeps_nothing_of_its_last_batch():
    class Result:
        pass

    calls = BatchThreads(threads=1, idle_s=120)

    async def main():
        return weakref.ref(await calls.call(Result))

    answered = asyncio.run(main())
    deadline = time.monotonic() + 30  # the thread drops the batch as it goes idle; it idles 120 s
    while answered() is not None and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.01)
    assert answered() is None


def test_without_together_a_generator_is_a_call_s_result():
    def in_steps():
        yield 1

    (answer,) = in_one_batch(BatchThreads(threads=1), (in_steps,))
    assert inspect.isgenerator(answer)
