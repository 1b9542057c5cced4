"""Group commit: concurrent callers of one process share one transaction for their rows.

A caller hands :meth:`GroupCommit.write` the rows of its record (for instance a stamp row and its
audit event) and blocks until they are committed. The first caller to find no commit running leads:
it takes every caller's rows that are pending at that moment, writes them all or nothing
(db.statements.insert_rows: on PostgreSQL one statement, elsewhere one ``executemany`` per statement
in one transaction) and answers every caller of that batch. Callers that arrive while a
commit runs wait; when it ends the first of them leads the next batch with all that have gathered.
No caller waits on a timer: a lone caller commits at once, and under load the batch grows with the
commit's own duration (as PostgreSQL's ``commit_delay`` and MySQL's binary-log group commit do).

Guarantees: a caller returns only after its rows are committed; if the batch's transaction fails,
nothing of it is written and every caller of that batch gets the exception (no silent loss, no
partial batch). Each statement's rows are written in the order their callers arrived, and the
statements in the order they first appear in the batch (a stamp row, then its audit event).

A thread that answers several requests in turn (core.threads.BatchThreads) gathers their rows
instead: inside :meth:`GroupCommit.gathered` a write only adds its rows, and they are written as one
caller's when the block ends; the requests are answered after that.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from core.threads import each_its_own
from db.base import Database
from db.statements import Row, insert_rows


class _Waiting:
    """One caller's rows and, once its batch is done, the outcome."""

    __slots__ = ("error", "leads", "rows", "wake")

    def __init__(self, rows: Sequence[Row]):
        self.rows = rows
        self.wake = threading.Event()  # set when the batch is answered or this caller is to lead
        self.leads = False
        self.error: BaseException | None = None


class _Gathering(threading.local):
    rows: list[Row] | None = None  # this thread's rows, inside GroupCommit.gathered


class GroupCommit:
    """Batches the writes of concurrent threads of this process into shared transactions on ``db``."""

    def __init__(self, db: Database):
        self.db = db
        self._lock = threading.Lock()
        self._pending: list[_Waiting] = []
        self._committing = False
        self._gathering = _Gathering()

    @contextmanager
    def gathered(self) -> Iterator[None]:
        """On this thread, :meth:`write` inside the block adds its rows to the block's and returns at
        once; when the block ends they are written (as by :meth:`write`, which may raise). Nothing is
        written if the block raises."""
        rows: list[Row] = []
        self._gathering.rows = rows
        try:
            yield
        finally:
            self._gathering.rows = None
        if rows:
            self.write(rows)

    @contextmanager
    def one_of_gathered(self) -> Iterator[None]:
        """One request inside :meth:`gathered`: if it raises, the rows it added are taken out
        (outside :meth:`gathered` its writes are committed as they come, so there is nothing to do)."""
        rows = self._gathering.rows
        if rows is None:
            yield
            return
        kept = len(rows)
        try:
            yield
        except BaseException:
            del rows[kept:]
            raise

    def write(self, rows: Sequence[Row]) -> None:
        """Insert ``rows`` ((Core INSERT statement, its parameters), in order) and return once they
        are committed (inside :meth:`gathered`: once added). Raises what the batch's transaction
        raised (a SQLAlchemy or driver error); then none of the batch's rows were written."""
        gathering = self._gathering.rows
        if gathering is not None:
            gathering.extend(rows)
            return
        me = _Waiting(rows)
        with self._lock:
            self._pending.append(me)
            leads, self._committing = not self._committing, True
        if not leads:
            me.wake.wait()
        if me.leads or leads:
            self._lead()
        if me.error is not None:
            raise me.error

    def _lead(self) -> None:
        """Commit every pending caller's rows in one transaction, answer them, hand on the lead."""
        with self._lock:
            batch, self._pending = self._pending, []
        error = None
        try:
            insert_rows(self.db, [row for waiting in batch for row in waiting.rows])
        except BaseException as exc:  # every caller of the batch gets it; no caller is left waiting
            error = exc
        with self._lock:
            following = self._pending[0] if self._pending else None
            if following is None:
                self._committing = False
            else:
                following.leads = True
        errors = each_its_own(error, len(batch)) if error is not None else [None] * len(batch)
        for waiting, own in zip(batch, errors, strict=True):
            waiting.error = own
            waiting.wake.set()
        if following is not None:
            following.wake.set()
