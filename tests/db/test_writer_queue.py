"""On SQLite, writers queue (db.base.Database._writer) before they take a pooled connection: a
writer that held a connection while queueing would, with more writers queued than the pool holds,
leave the writer at the head of the queue waiting for a connection until the pool's timeout (seen as
30-second stalls of issuance under load, the audit sequencer holding the queue)."""

from __future__ import annotations

import sys
import threading
import time

from sqlalchemy import text

from db.base import Database


def _queued(thread: threading.Thread) -> bool:
    """Whether ``thread`` is waiting inside Database._writer."""
    frame = sys._current_frames().get(thread.ident)
    while frame is not None:
        if frame.f_code.co_name == "_writer":
            return True
        frame = frame.f_back
    return False


def test_a_queued_writer_holds_no_connection(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'q.db'}")
    try:
        with db.transaction() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))

        def write() -> None:
            with db.transaction() as conn:
                conn.execute(text("INSERT INTO t VALUES (2)"))

        writers = [threading.Thread(target=write) for _ in range(3)]
        with db.unit_of_work() as session:  # this writer's turn: the others queue behind it
            for writer in writers:
                writer.start()
            while not all(_queued(w) for w in writers):
                time.sleep(0.001)  # (waits for the threads to reach the queue, not for a duration)
            assert db.engine.pool.checkedout() == 0
            session.execute(text("INSERT INTO t VALUES (1)"))
        for writer in writers:
            writer.join()
        with db.read() as session:
            assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == 4
    finally:
        db.dispose()
