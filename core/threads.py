"""The one boundary between blocking code and the event loop.

``in_thread`` runs blocking work (database, signing, parsing) from async code in a worker thread,
so the loop keeps serving; :class:`BatchThreads` runs short calls of one kind in batches on a few
threads of their own; ``run_sync`` runs a coroutine to completion from sync code, also when the
caller is itself inside a running loop (then on a shared worker thread with its own loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import functools
import inspect
import threading
import weakref
from collections.abc import Awaitable, Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from typing import TypeVar

import anyio.to_thread

T = TypeVar("T")


async def in_thread(fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn(*args, **kwargs)`` in a worker thread of the running loop's pool; its result or exception."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


def run_sync(make_coro: Callable[[], Awaitable[T]]) -> T:
    """The result of the coroutine ``make_coro()`` run to completion from synchronous code.

    Outside an event loop it runs here, on this thread's own loop (kept between calls, as
    ``asyncio.Runner`` keeps one: making and closing a loop per call, as ``asyncio.run`` does, cost
    0.2 ms or more, up to a tenth of verifying a one-signature PDF). Each call runs in a copy of
    the caller's context, like ``asyncio.run``, and tasks it leaves behind are cancelled before it
    returns.
    Inside a running loop (a sync function called from async code) it runs on a thread of its own,
    since a loop cannot be re-entered (a thread per call, so nested bridges never wait on each
    other for a worker)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        in_loop = False
    else:
        in_loop = True
    if not in_loop:  # outside the except block, so no exception context leaks into logged tracebacks
        return _run_here(make_coro)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-sync") as pool:
        return pool.submit(lambda: asyncio.run(make_coro())).result()


_thread_state = threading.local()


def _run_here(make_coro: Callable[[], Awaitable[T]]) -> T:
    loop = getattr(_thread_state, "loop", None)
    if loop is None:
        loop = _thread_state.loop = asyncio.new_event_loop()
        weakref.finalize(threading.current_thread(), loop.close)  # when the thread is gone
    task = loop.create_task(make_coro(), context=contextvars.copy_context())
    try:
        return loop.run_until_complete(task)
    finally:
        left = asyncio.all_tasks(loop)
        for leftover in left:
            leftover.cancel()
        if left:
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))


def drive(steps: Generator[object, None, T], do: Callable[[object], None]) -> T:
    """Run a call in steps alone (see :class:`BatchThreads`): ``do(unit)`` for each unit it yields,
    the exception ``do`` raised thrown back in where it yielded; returns what ``steps`` returns.
    ``steps`` is closed however this ends, so its ``finally`` blocks run."""
    with contextlib.closing(steps):
        failure: BaseException | None = None
        while True:
            done, value = _resume(steps, failure)
            if done:
                return value
            try:
                do(value)
                failure = None
            except Exception as exc:  # noqa: BLE001 - the call decides what its unit's failure means
                failure = exc


def _resume(steps: Generator, failure: BaseException | None) -> tuple[bool, object]:
    """Run ``steps`` on to its next unit, ``failure`` thrown in first: (False, the unit), or
    (True, what it returned)."""
    try:
        unit = steps.send(None) if failure is None else steps.throw(failure)
    except StopIteration as stop:
        return True, stop.value
    return False, unit


def each_its_own(exc: BaseException, count: int) -> list[BaseException]:
    """``count`` copies of ``exc`` (same type, arguments, cause and traceback so far), one for each
    caller it fails: one object raised in several requests would gather all their frames."""
    copies = []
    for _ in range(count):
        try:
            copied = copy.copy(exc)
        except Exception:  # noqa: BLE001 - an exception that cannot be copied is shared as it is
            copied = exc
        else:
            copied.__cause__, copied.__context__ = exc.__cause__, exc.__context__
            copied.__traceback__ = exc.__traceback__
        copies.append(copied)
    return copies


class BatchThreads:
    """Short blocking calls of one kind (a data stamp, an issuance), answered in batches by
    ``threads`` threads of their own instead of a thread each.

    A free thread takes every call waiting at that moment and runs them one after another, each in
    the context (contextvars) of the request that made it, inside ``batch()`` and each inside
    ``each()``: what those provide (one generation read, one commit) is shared by the batch. A
    call's exception goes to its own caller. Each caller is answered when its call returns, or,
    with ``answer_after_batch``, once ``batch()`` has ended (when it commits what the calls wrote);
    an exception leaving ``batch()`` then goes to every caller of that batch that had not failed
    already, and none of them gets a result. With per-call threads a short call's cost is mostly
    handing the GIL and the CPU between many threads; here a batch costs a few hand-offs. Two
    threads let one batch commit while the next is worked on. Threads end after ``idle_s`` seconds
    without work and start again when needed.

    With ``together``, a call may return a generator (a call in steps, say an issuance's intent,
    then its certificate): each value it yields is a unit of work it needs done before it goes on.
    The batch's calls are stepped in lockstep: the units all of them yielded at one step go to one
    ``together(units)``, which does them (one transaction instead of one each) and returns, in
    their order, None or the exception of each unit; each generator is then resumed, the exception
    thrown in where its unit failed. What a generator returns is its call's result; each step runs
    in the call's context, inside ``each()``."""

    def __init__(
        self,
        batch: Callable[[], AbstractContextManager] = nullcontext,
        each: Callable[[], AbstractContextManager] = nullcontext,
        threads: int = 2,
        name: str = "batch",
        idle_s: float = 30.0,
        answer_after_batch: bool = False,
        together: Callable[[list], list[BaseException | None]] | None = None,
    ):
        self._batch, self._each, self._together = batch, each, together
        self._size, self._name, self._idle_s = threads, name, idle_s
        self._after_batch = answer_after_batch
        self._turn = threading.Condition()
        self._waiting: list[tuple[contextvars.Context, Callable[[], object], asyncio.Future]] = []
        self._running = self._free = 0

    async def call(self, fn: Callable[..., T], *args) -> T:
        """``fn(*args)``, run in a batch on one of the threads; its result or exception. Raises
        RuntimeError when no thread can be started (then ``fn`` is not run)."""
        future = asyncio.get_running_loop().create_future()
        entry = (contextvars.copy_context(), functools.partial(fn, *args), future)
        with self._turn:
            self._waiting.append(entry)
            if self._free:
                self._turn.notify()
            elif self._running < self._size:
                self._start(entry)
        return await future

    def _start(self, entry) -> None:
        self._running += 1
        try:
            threading.Thread(target=self._serve, name=self._name, daemon=True).start()
        except BaseException:  # e.g. the process's thread limit: this call is not run
            self._running -= 1
            self._waiting.remove(entry)
            raise

    def _serve(self) -> None:
        while self._answer_next():
            pass

    def _answer_next(self) -> bool:
        """Answer the next batch; False when this thread is to end. A call of its own, so that an
        idle thread keeps nothing of its last batch (bodies, contexts) alive."""
        batch = self._next()
        if batch is None:
            return False
        self._answer(batch)
        return True

    def _next(self) -> list | None:
        """The calls waiting now (after waiting up to idle_s for one), or None: this thread ends."""
        with self._turn:
            if not self._waiting:
                self._free += 1
                self._turn.wait_for(lambda: self._waiting, timeout=self._idle_s)
                self._free -= 1
            if not self._waiting:
                self._running -= 1
                return None
            batch, self._waiting = self._waiting, []
            return batch

    def _answer(self, batch: list) -> None:
        held: list[tuple[asyncio.Future, tuple[bool, object]]] = []
        settled: set[asyncio.Future] = set()

        def settle(future: asyncio.Future, outcome: tuple[bool, object]) -> None:
            settled.add(future)
            if self._after_batch:
                held.append((future, outcome))
            else:
                _deliver([(future, outcome)])

        try:
            with self._batch():
                self._run(batch, settle)
        except BaseException as exc:  # the batch's own step failed: no waiting caller gets a result
            failed = [f for f, (ok, _) in held if ok] + [f for _, _, f in batch if f not in settled]
            held = [(f, (ok, v)) for f, (ok, v) in held if not ok]
            held += [(f, (False, e)) for f, e in zip(failed, each_its_own(exc, len(failed)), strict=True)]
        _deliver(held)

    def _run(self, batch: list, settle: Callable) -> None:
        """Each call's outcome to ``settle`` as soon as it is known; calls in steps in lockstep."""
        stepping: list[_Stepped] = []
        for context, fn, future in batch:
            ok, value = context.run(_attempt, self._each, fn)
            if ok and self._together is not None and inspect.isgenerator(value):
                stepping.append(_Stepped(context, value, future))
            else:
                settle(future, (ok, value))
        try:
            while stepping:
                for call in stepping:
                    call.advance(self._each)
                    if call.outcome is not None:
                        settle(call.future, call.outcome)
                stepping = [call for call in stepping if call.outcome is None]
                if stepping:
                    failures = _together(self._together, [call.unit for call in stepping])
                    for call, failure in zip(stepping, failures, strict=True):
                        call.failure = failure
        finally:  # calls cut short (the batch failed): their finally blocks run now, in their context
            for call in stepping:
                call.context.run(_attempt, nullcontext, call.generator.close)


class _Stepped:
    """A call in steps: its generator, and after each step the unit it asked for or its outcome."""

    __slots__ = ("context", "failure", "future", "generator", "outcome", "unit")

    def __init__(self, context: contextvars.Context, generator: Generator, future: asyncio.Future):
        self.context, self.generator, self.future = context, generator, future
        self.unit: object = None
        self.failure: BaseException | None = None  # its last unit's, thrown in at the next step
        self.outcome: tuple[bool, object] | None = None

    def advance(self, each: Callable[[], AbstractContextManager]) -> None:
        ok, value = self.context.run(_attempt, each, self._step)
        if not ok:
            self.outcome = (False, value)

    def _step(self) -> None:
        failure, self.failure = self.failure, None
        done, value = _resume(self.generator, failure)
        if done:
            self.outcome = (True, value)
        else:
            self.unit = value


def _together(
    together: Callable[[list], list[BaseException | None]], units: list
) -> list[BaseException | None]:
    try:
        return together(units)
    except BaseException as exc:  # not one unit's failure: each unit's call gets it
        return each_its_own(exc, len(units))


def _attempt(each: Callable[[], AbstractContextManager], fn: Callable[[], object]) -> tuple[bool, object]:
    try:
        with each():
            return True, fn()
    except BaseException as exc:  # the call's own failure, whatever it is, is its caller's answer
        return False, exc


def _deliver(outcomes: list[tuple[asyncio.Future, tuple[bool, object]]]) -> None:
    """Hand each outcome to its future's loop (one wake-up per loop)."""
    by_loop: dict[asyncio.AbstractEventLoop, list] = {}
    for future, outcome in outcomes:
        by_loop.setdefault(future.get_loop(), []).append((future, outcome))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: no caller is left
            loop.call_soon_threadsafe(_settle, settled)


def _settle(settled: list[tuple[asyncio.Future, tuple[bool, object]]]) -> None:
    for future, (ok, value) in settled:
        if future.done():  # the request was cancelled (its client went away)
            continue
        try:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        except TypeError:  # StopIteration, which a future cannot carry: the caller still gets one
            future.set_exception(RuntimeError(f"the call failed: {value!r}"))
