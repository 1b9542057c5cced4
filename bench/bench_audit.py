"""Audit writes with 2 writer processes: `db.audit.record()` (insert only, sequenced in the background)
against the former hash-chain append under a global lock, measured in the same run.

Run: `.venv/bin/python -m bench.bench_audit [--seconds S] [--rounds R] [--no-postgres]`.
Each transaction is what every state change pays for its audit event: one unit_of_work holding one
event. Two processes write for S seconds. With the new log a third process runs the sequencer job
as the server does (every LONGTRUST_AUDIT_SEQUENCE_INTERVAL_S, in batches) at the same time; once the
writers stop, the time to sequence what is left is printed too. The baseline (kept below as it was
in db/audit.py, with the former table's indexes) reads the chain's tail and appends under
`pg_advisory_xact_lock` on PostgreSQL, and in the write transaction on SQLite. Variants are
interleaved round by round.

On SQLite it also measures the new log without db/base.py's writer lock file (plain
`BEGIN IMMEDIATE` and SQLite's busy handler), throughput and tail latency, which decides whether
that lock file stays.

Then it builds a tree of --proof-events events (1 M by default), printing the sequencer's rate and
the time of roots and proofs at that size, against an inclusion proof computed from all leaf hashes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import random
import secrets
import tempfile
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import BigInteger, Column, MetaData, String, Table, create_engine, func, insert, select, text

from app.migrate import upgrade
from app.settings import Settings
from db import merkle
from db.audit import (
    SEQUENCE_BATCH,
    AuditEvent,
    AuditNode,
    canonical_bytes,
    details_text,
    node_source,
    record,
    sequence,
)
from db.base import Database, utcnow

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WRITERS = 2
_PG_LOCK = 0x4C54_4155

# --- the former algorithm, kept here as the baseline ------------------------------------------------

_meta = MetaData()
chain = Table(  # the former audit_events table, with its indexes
    "bench_audit_chain",
    _meta,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", String(40), index=True),
    Column("actor", String(200)),
    Column("action", String(100), index=True),
    Column("subject", String(300), index=True),
    Column("details", String),
    Column("prev_hash", String(64)),
    Column("hash", String(64), unique=True),
)
_TAIL = select(chain.c.seq, chain.c.hash).order_by(chain.c.seq.desc()).limit(1)


def chain_append(session, actor: str, action: str, target: str, **details) -> str:
    """The hash-chain append as db.audit.record() did it before the Merkle log."""
    session.flush()
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
    last = conn.execute(_TAIL).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, "0" * 64)
    at = utcnow().isoformat(timespec="milliseconds")
    body = json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    digest = hashlib.sha256(
        json.dumps([seq, at, actor, action, target, body, prev], ensure_ascii=False).encode()
    ).hexdigest()
    conn.execute(
        insert(chain),
        {
            "seq": seq,
            "at": at,
            "actor": actor,
            "action": action,
            "subject": target,
            "details": body,
            "prev_hash": prev,
            "hash": digest,
        },
    )
    return digest


# --- workers -----------------------------------------------------------------------------------------


class LockFileless(Database):
    """SQLite without db/base.py's writer lock file: BEGIN IMMEDIATE and SQLite's busy handler only."""

    def _writer(self):
        return nullcontext()


def _open(url: str, lock_file: bool) -> Database:
    return Database(url) if lock_file else LockFileless(url)


def _writer(url: str, mode: str, lock_file: bool, seconds: float, go, results, slot: int) -> None:
    db = _open(url, lock_file)
    write = chain_append if mode == "chain" else record
    go.wait()
    latencies, deadline = [], time.perf_counter() + seconds
    while (start := time.perf_counter()) < deadline:
        with db.unit_of_work() as s:
            write(s, f"bench:{slot}", "bench.write", f"thing-{len(latencies)}", n=len(latencies), note="基准")
        latencies.append(time.perf_counter() - start)
    latencies.sort()
    results.put((len(latencies), latencies[int(len(latencies) * 0.99)], latencies[-1]))
    db.dispose()


def _sequencer(url: str, go, stop) -> None:
    """The server's background job: every LONGTRUST_AUDIT_SEQUENCE_INTERVAL_S, sequence what waits."""
    db = Database(url)
    interval = Settings().audit_sequence_interval_s
    go.wait()
    while not stop.wait(interval):
        _sequence_all(db)
    db.dispose()


def _sequence_all(db: Database) -> None:
    while True:
        with db.unit_of_work() as s:
            if not sequence(s):
                return


def _drain(url: str) -> tuple[float, int]:
    db = Database(url)
    start = time.perf_counter()
    _sequence_all(db)
    elapsed = time.perf_counter() - start
    with db.read() as s:
        waiting = s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.seq.is_(None)))
    db.dispose()
    return elapsed, waiting


@dataclass
class Run:
    per_second: float  # transactions per second over all writers
    p99_ms: float  # the worse writer's 99th percentile transaction time
    max_ms: float
    drain_s: float = 0.0  # time to sequence what was left once the writers stopped


def measure(url: str, mode: str, seconds: float, lock_file: bool = True) -> Run:
    """``mode``: "chain" (baseline), "record" (writers only) or "merkle" (writers + sequencer job)."""
    ctx = mp.get_context("spawn")
    go, stop, results = ctx.Event(), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_writer, args=(url, mode, lock_file, seconds, go, results, i))
        for i in range(WRITERS)
    ]
    if mode == "merkle":
        procs.append(ctx.Process(target=_sequencer, args=(url, go, stop)))
    for p in procs:
        p.start()
    time.sleep(2.0)  # let the spawned processes import and connect before the start signal
    go.set()
    per_writer = [results.get() for _ in range(WRITERS)]
    stop.set()
    for p in procs:
        p.join()
    run = Run(
        sum(r[0] for r in per_writer) / seconds,
        max(r[1] for r in per_writer) * 1000,
        max(r[2] for r in per_writer) * 1000,
    )
    if mode == "merkle":
        run.drain_s, waiting = _drain(url)
        assert waiting == 0
    return run


@contextmanager
def database(postgres: bool, tmp: Path):
    if not postgres:
        url = f"sqlite:///{tmp / 'bench.db'}"
        yield url
        return
    schema = f"bench_{secrets.token_hex(4)}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _mean(runs: list[Run]) -> Run:
    n = len(runs)
    return Run(*(sum(getattr(r, f) for r in runs) / n for f in ("per_second", "p99_ms", "max_ms", "drain_s")))


def _line(name: str, run: Run, base_name: str, base: Run) -> str:
    return (
        f"{name:<44} {run.per_second:>7.0f}/s p99 {run.p99_ms:>6.1f} ms   baseline {base_name}: "
        f"{base.per_second:>7.0f}/s p99 {base.p99_ms:>6.1f} ms   "
        f"ratio {run.per_second / base.per_second:5.2f}x"
    )


def run_backend(name: str, postgres: bool, seconds: float, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, database(postgres, Path(tmp)) as url:
        db = Database(url)
        upgrade(db)
        _meta.create_all(db.engine)
        db.dispose()
        runs: dict[str, list[Run]] = {"chain": [], "merkle": [], "record": [], "no-lock-file": []}
        for _ in range(rounds):  # interleaved, so drifting machine load hits every variant alike
            runs["chain"].append(measure(url, "chain", seconds))
            runs["merkle"].append(measure(url, "merkle", seconds))
            runs["record"].append(measure(url, "record", seconds))
            if not postgres:
                runs["no-lock-file"].append(measure(url, "merkle", seconds, lock_file=False))
        chain, merkle = _mean(runs["chain"]), _mean(runs["merkle"])
        base = "chain append + global lock"
        print(
            _line(f"{name}: record() + sequencer job, 2 writers", merkle, base, chain)
            + f"   (then {merkle.drain_s:.2f} s to sequence what was left)"
        )
        print(_line(f"{name}: record() alone, 2 writers", _mean(runs["record"]), base, chain))
        if runs["no-lock-file"]:
            fileless = _mean(runs["no-lock-file"])
            print(
                _line(f"{name}: record() + sequencer, no writer lock file", fileless, "with it", merkle)
                + f"   max {fileless.max_ms:.0f} ms vs {merkle.max_ms:.0f} ms"
            )


def _bulk_events(db: Database, n: int) -> None:
    """``n`` events written straight into the table (what ``n`` record() calls would leave)."""
    at = utcnow().replace(microsecond=0)
    chunk = 20_000
    for start in range(0, n, chunk):
        rows = []
        for i in range(start, min(n, start + chunk)):
            body = details_text({"n": i})
            rows.append(
                {
                    "at": at,
                    "actor": "bench",
                    "action": "bench.write",
                    "subject": f"thing-{i}",
                    "details": body,
                    "canonical": canonical_bytes(at, "bench", "bench.write", f"thing-{i}", body),
                }
            )
        with db.unit_of_work() as s:
            s.execute(insert(AuditEvent.__table__), rows)


def _proof_times(db: Database, n: int, samples: int = 200) -> tuple[float, float, float]:
    """Mean ms per (root, inclusion proof, consistency proof) over random positions of the tree of n."""
    rng = random.Random(7)
    times = [0.0, 0.0, 0.0]
    with db.read() as s:
        source = node_source(s)
        for _ in range(samples):
            size = rng.randint(n // 2, n)
            calls = (
                (merkle.root, (size,)),
                (merkle.inclusion_proof, (rng.randrange(size), size)),
                (merkle.consistency_proof, (rng.randint(1, size), size)),
            )
            for k, (call, args) in enumerate(calls):
                start = time.perf_counter()
                call(*args, source)
                times[k] += time.perf_counter() - start
    return tuple(t / samples * 1000 for t in times)


def _naive_proof_ms(db: Database, n: int) -> float:
    """The baseline: an inclusion proof computed from all n leaf hashes (no stored subtrees)."""
    start = time.perf_counter()
    with db.read() as s:
        leaves = [
            h
            for (h,) in s.execute(select(AuditNode.hash).where(AuditNode.level == 0).order_by(AuditNode.idx))
        ]
    stored = {(0, i): h for i, h in enumerate(leaves)}
    tree = merkle.new_nodes(0, leaves, lambda keys: {k: stored[k] for k in keys})
    merkle.inclusion_proof(n // 3, n, lambda keys: {k: tree[k] for k in keys})
    return (time.perf_counter() - start) * 1000


def proofs_at_scale(name: str, postgres: bool, n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, database(postgres, Path(tmp)) as url:
        db = Database(url)
        upgrade(db)
        _bulk_events(db, n)
        start = time.perf_counter()
        _sequence_all(db)
        sequenced = n / (time.perf_counter() - start)
        root_ms, inclusion_ms, consistency_ms = _proof_times(db, n)
        naive = _naive_proof_ms(db, n)
        db.dispose()
    print(
        f"{name}: sequencer {sequenced:>8.0f} events/s (batches of {SEQUENCE_BATCH}) into a tree of {n}; "
        f"at {n} events: root {root_ms:.1f} ms, inclusion proof {inclusion_ms:.1f} ms, "
        f"consistency proof {consistency_ms:.1f} ms   "
        f"baseline inclusion proof from all leaf hashes: {naive:.0f} ms   "
        f"ratio {naive / inclusion_ms:.0f}x faster"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--proof-events", type=int, default=1_000_000, help="tree size for proof timings; 0 skips"
    )
    args = parser.parse_args()
    backends = [("SQLite", False)] + ([] if args.no_postgres else [("PostgreSQL", True)])
    for name, postgres in backends:
        run_backend(name, postgres, args.seconds, args.rounds)
    for name, postgres in backends:
        if args.proof_events:
            proofs_at_scale(name, postgres, args.proof_events)


if __name__ == "__main__":
    main()
