"""Soak: bench/bench_mixed.py's mixed load on `longtrust serve --workers 2` for minutes, zero errors.

Run: `.venv/bin/python -m bench.soak [--minutes 10] [--postgres] [--concurrency C]`.
Prints the throughput of every minute against the first minute's (the baseline of the same run), the
whole run's p50/p99 per operation, and the resident memory (RSS) of every worker process at the start
(after warm-up) and at the end. Exits non-zero on any transport error or non-2xx answer.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bench.bench_mixed import Stats, database, drive, print_stats, workload
from bench.live_server import Live, serve

try:
    import psutil
except ImportError:  # /proc is enough on Linux
    psutil = None


def worker_rss(live: Live) -> dict[int, int]:
    """pid → resident set size in bytes of the server's worker processes (its children)."""
    if psutil is not None:
        children = psutil.Process(live.pid).children(recursive=True)
        return {p.pid: p.memory_info().rss for p in children if _is_worker(" ".join(p.cmdline()))}
    pids = [int(pid) for pid in os.listdir("/proc") if pid.isdigit() and _parent(int(pid)) == live.pid]
    return {pid: _proc_rss(pid) for pid in pids if _is_worker(_cmdline(pid))}


def _is_worker(cmdline: str) -> bool:
    """uvicorn's workers, not multiprocessing's resource tracker."""
    return "resource_tracker" not in cmdline


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _proc_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _mib(rss: dict[int, int]) -> str:
    return ", ".join(f"pid {pid}: {size / 2**20:.0f} MiB" for pid, size in sorted(rss.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    kind = "postgresql" if args.postgres else "sqlite"
    total = Stats()
    with database(kind) as env, serve(2, env) as live:
        requests = workload(live, env)
        drive(live, requests, 5, args.concurrency)  # warm-up
        start_rss = worker_rss(live)
        print(f"soak: {kind}, 2 workers, {args.concurrency} in flight, {args.minutes:g} minutes")
        print(f"RSS at start: {_mib(start_rss)}")
        first = None
        minutes = max(1, round(args.minutes))
        for minute in range(1, minutes + 1):
            stats = drive(live, requests, args.minutes * 60 / minutes, args.concurrency)
            first = first or stats
            total.seconds += stats.seconds
            total.errors += stats.errors
            for name, values in stats.latencies.items():
                total.latencies.setdefault(name, []).extend(values)
            print(
                f"minute {minute:>3}: {stats.rate():7.1f} requests/s   baseline minute 1: "
                f"{first.rate():7.1f}/s   ratio {stats.rate() / first.rate():5.2f}   "
                f"errors {len(stats.errors)}",
                flush=True,
            )
        end_rss = worker_rss(live)
    print_stats("whole run", total)
    print(f"RSS at start: {_mib(start_rss)}")
    print(f"RSS at end:   {_mib(end_rss)}")
    growth = sum(end_rss.values()) / max(sum(start_rss.values()), 1)
    print(f"RSS end ÷ start (all workers): {growth:.2f}")
    if total.errors or total.total == 0:
        raise SystemExit(f"{len(total.errors)} errors or non-2xx answers")
    print("zero errors")


if __name__ == "__main__":
    main()
