"""The truth generation: a change committed through one connection pool (another process, the CLI)
is seen by every other on its next read, and caches watching it are emptied."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from core.versioned import VersionedCache
from db.base import Database
from db.jobs import claim
from db.truth import Topic, bump


def test_a_bump_by_another_database_handle_is_seen_on_the_next_read(db):
    other = Database(db.url)  # another process's view of the same database
    try:
        before = db.generation.current()
        assert len(before) == len(Topic)
        with other.unit_of_work() as s:
            bump(s, Topic.SEALS)
        after = db.generation.current()
        changed = [t for t in Topic if before[t - 1] != after[t - 1]]
        assert changed == [Topic.SEALS]
    finally:
        other.dispose()


def test_a_rolled_back_bump_changes_nothing(db):
    before = db.generation.current()
    try:
        with db.unit_of_work() as s:
            bump(s)
            raise RuntimeError("the change fails")
    except RuntimeError:
        pass
    assert db.generation.current() == before


def test_inside_a_request_the_generation_is_read_once(db):
    other = Database(db.url)
    try:
        with db.generation.request():
            first = db.generation.current()
            with other.unit_of_work() as s:
                bump(s, Topic.KEYS)
            assert db.generation.current() == first  # one request sees one truth
        assert db.generation.current() != first  # the next request sees the change
    finally:
        other.dispose()


def test_versioned_cache_drops_what_it_holds_when_its_topics_move(db):
    other = Database(db.url)
    loads = []
    cache = VersionedCache(db.generation.watch(Topic.KEYS))

    def load():
        loads.append(1)
        return len(loads)

    try:
        assert cache.get_or_load("k", load) == 1
        assert cache.get_or_load("k", load) == 1
        with other.unit_of_work() as s:
            bump(s, Topic.SEALS)
        assert cache.get_or_load("k", load) == 1  # another topic: kept
        with other.unit_of_work() as s:
            bump(s, Topic.KEYS)
        assert cache.get_or_load("k", load) == 2
    finally:
        other.dispose()


def test_a_value_loaded_across_a_change_is_not_kept(db):
    other = Database(db.url)
    cache = VersionedCache(db.generation.watch(Topic.CAS))

    def load_while_someone_changes_it():
        with other.unit_of_work() as s:
            bump(s, Topic.CAS)
        return "stale"

    try:
        assert cache.get_or_load("k", load_while_someone_changes_it) == "stale"
        assert cache.get_or_load("k", lambda: "fresh") == "fresh"
    finally:
        other.dispose()


def test_a_periodic_job_is_claimed_by_exactly_one_of_many_processes(db):
    handles = [Database(db.url) for _ in range(4)]
    now = datetime.now(UTC)
    every = timedelta(minutes=1)
    results: list[bool] = []
    start = threading.Barrier(len(handles))

    def tick(handle: Database, n: int) -> None:
        start.wait()
        results.append(claim(handle, "crl", every, now, f"worker-{n}"))

    try:
        threads = [threading.Thread(target=tick, args=(h, n)) for n, h in enumerate(handles)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [False, False, False, True]
        assert not claim(db, "crl", every, now + timedelta(seconds=59), "late")
        assert claim(db, "crl", every, now + every, "next")
        assert claim(db, "other-job", every, now, "any")
    finally:
        for handle in handles:
            handle.dispose()


def test_concurrent_readers_share_reads_yet_each_sees_what_was_committed_before_it_asked(db):
    other = Database(db.url)
    stop = threading.Event()
    seen_by_readers: list[int] = []

    def read_until_stopped():
        while not stop.is_set():
            seen_by_readers.append(db.generation.current()[Topic.SEALS - 1])

    readers = [threading.Thread(target=read_until_stopped) for _ in range(6)]
    for reader in readers:
        reader.start()
    try:
        for _ in range(20):
            with other.unit_of_work() as s:
                bump(s, Topic.SEALS)
            committed = other.generation.current()[Topic.SEALS - 1]
            assert db.generation.current()[Topic.SEALS - 1] == committed
    finally:
        stop.set()
        for reader in readers:
            reader.join()
        other.dispose()
    assert seen_by_readers and max(seen_by_readers) <= committed


def test_a_shared_read_is_made_when_its_scope_begins_and_serves_every_request_inside(db):
    """Requests answered together in a batch (core.threads.BatchThreads) all arrived before the
    batch began: one read made then sees every change committed before any of them asked."""
    other = Database(db.url)
    try:
        before = db.generation.current()
        with other.unit_of_work() as s:
            bump(s, Topic.SEALS)  # committed before the batch begins
        with db.generation.shared_read():
            with other.unit_of_work() as s:
                bump(s, Topic.KEYS)  # committed after it began: for the next batch
            seen = []
            for _ in range(3):
                with db.generation.request():
                    seen.append(db.generation.current())
        assert seen[0] == seen[1] == seen[2]
        assert seen[0][Topic.SEALS - 1] > before[Topic.SEALS - 1]
        assert seen[0][Topic.KEYS - 1] == before[Topic.KEYS - 1]
        assert db.generation.current()[Topic.KEYS - 1] > before[Topic.KEYS - 1]  # scope over
    finally:
        other.dispose()
