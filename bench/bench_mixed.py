"""Mixed load over HTTP against real `longtrust serve --workers N` processes on SQLite and PostgreSQL.

Run: `.venv/bin/python -m bench.bench_mixed [--seconds S] [--concurrency C] [--no-postgres]`.
One asyncio httpx load generator (on the same machine as the server) keeps C requests in flight, each
slot cycling through the mix: RSA and SM2 certificate issuance, SM2 data stamps, an RSA PDF stamp,
PDF verification of a stamped document and pre-signed OCSP (GET). It prints, per run, the throughput,
p50 and p99 of every operation and, measured in the same script, the ratios workers 2 ÷ workers 1 on
each database and PostgreSQL ÷ SQLite at 2 workers. The four servers (SQLite 1 and 2 workers,
PostgreSQL 1 and 2, each PostgreSQL one on a fresh database, createdb / dropdb) run at once and take
turns in four interleaved rounds of S/4 seconds, after a warm-up, so a drift in the machine's speed
weighs on all alike. Any error or non-2xx answer fails the run. bench/soak.py runs the same load for minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import cycle

import httpx
from asn1crypto import pem, x509

from bench.live_server import Live, approved, interleaved, serve
from tests.ca.csrs import make_csr, ocsp_request
from tests.seal_service.test_pdf import make_pdf, make_png

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/"
ISSUER = "11100000000013338W"
# Each slot of the load generator walks this cycle: 12 requests, half of them writes.
MIX = (
    "issue RSA",
    "SM2 data stamp",
    "OCSP",
    "issue SM2",
    "SM2 data stamp",
    "verify PDF",
    "issue RSA",
    "OCSP",
    "SM2 data stamp",
    "issue SM2",
    "PDF stamp RSA",
    "OCSP",
)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes
    headers: dict


@dataclass
class Stats:
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def add(self, other: Stats) -> None:
        """Count ``other`` (a further stretch of the same load) in these stats."""
        self.seconds += other.seconds
        for name, values in other.latencies.items():
            self.latencies.setdefault(name, []).extend(values)
        self.errors += other.errors

    def rate(self, operation: str | None = None) -> float:
        count = self.total if operation is None else len(self.latencies.get(operation, ()))
        return count / self.seconds


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def _post(live: Live, path: str, headers: dict, body: dict, env: dict | None = None) -> dict:
    r = httpx.post(live.base + path, headers=headers, json=body, timeout=120)
    r = approved(live.base, r, live.data_dir, env)  # dual control: a second operator approves
    r.raise_for_status()
    return r.json()


def _token(live: Live, role: str, seals: list[str] = ()) -> dict:
    admin = {"Authorization": f"Bearer {live.admin_token}"}
    body = {"role": role, "name": f"bench-{role}", "seals": list(seals)}
    return {"Authorization": f"Bearer {_post(live, '/api/v1/tokens', admin, body)['token']}"}


def workload(live: Live, env: dict | None = None) -> dict[str, Request]:
    """operation → one request that succeeds on ``live`` (seals, tokens and a certificate made first)."""
    admin = {"Authorization": f"Bearer {live.admin_token}"}
    seals = {}
    for algorithm in ("sm2", "rsa"):
        seal = {
            "name": f"基准测试章 {algorithm}",
            "owner_credit_code": ISSUER,
            "type": 1,
            "algorithm": algorithm,
            "image_png_b64": base64.b64encode(make_png()).decode(),
        }
        seals[algorithm] = _post(live, "/api/v1/seals", admin, seal, env)["seal_id"]
    operator = {**_token(live, "ca-operator"), "Content-Type": "application/json"}
    stamper = _token(live, "approval-system", list(seals.values()))
    issued = httpx.post(
        live.base + "/api/v1/cas/rsa-issuing/certificates",
        headers=operator,
        json={"csr_pem": make_csr("rsa").decode(), "profile": "organization-signing", "credit_code": ISSUER},
        timeout=120,
    ).json()
    cert, issuer = (
        x509.Certificate.load(pem.unarmor(issued[k].encode())[2]) for k in ("certificate_pem", "chain_pem")
    )
    pdf_stamp = Request(
        "POST",
        f"/api/v1/seals/{seals['rsa']}/stamp/pdf",
        make_pdf(),
        {**stamper, "Content-Type": "application/pdf"},
    )
    stamped = httpx.post(
        live.base + pdf_stamp.path, content=pdf_stamp.body, headers=pdf_stamp.headers, timeout=120
    )
    stamped.raise_for_status()
    document = {"licence": "营业执照", "number": 42, "holder": {"name": "张三", "id": "11010519491231002X"}}
    requests = {
        f"issue {kind.upper()}": Request(
            "POST",
            f"/api/v1/cas/{kind}-issuing/certificates",
            json.dumps(
                {"csr_pem": make_csr(kind).decode(), "profile": "organization-signing", "credit_code": ISSUER}
            ).encode(),
            operator,
        )
        for kind in ("rsa", "sm2")
    }
    requests["SM2 data stamp"] = Request(
        "POST",
        f"/api/v1/seals/{seals['sm2']}/stamp/data",
        json.dumps(document).encode(),
        {**stamper, "Content-Type": "application/json"},
    )
    requests["PDF stamp RSA"] = pdf_stamp
    requests["verify PDF"] = Request(
        "POST", "/api/v1/verify/pdf", stamped.content, {"Content-Type": "application/pdf"}
    )
    encoded = base64.urlsafe_b64encode(ocsp_request(cert.serial_number, issuer)).decode()
    requests["OCSP"] = Request("GET", "/ocsp/" + encoded, b"", {})
    report = httpx.post(
        live.base + "/api/v1/verify/pdf", content=stamped.content, headers=requests["verify PDF"].headers
    ).json()
    if report.get("indication") != "TOTAL_PASSED":
        raise SystemExit(f"the stamped PDF does not verify, so it is not worth timing: {report}")
    return requests


async def _drive(base: str, requests: dict[str, Request], seconds: float, concurrency: int) -> Stats:
    stats = Stats(latencies={name: [] for name in requests})
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        deadline = time.perf_counter() + seconds

        async def slot(offset: int) -> None:
            operations = cycle(MIX[offset % len(MIX) :] + MIX[: offset % len(MIX)])
            while time.perf_counter() < deadline:
                name = next(operations)
                r = requests[name]
                started = time.perf_counter()
                try:
                    answer = await client.request(r.method, r.path, content=r.body, headers=r.headers)
                except httpx.HTTPError as exc:
                    stats.errors.append(f"{name}: {type(exc).__name__} {exc}")
                    continue
                if not 200 <= answer.status_code < 300:
                    stats.errors.append(f"{name}: HTTP {answer.status_code} {answer.text[:200]}")
                    continue
                stats.latencies[name].append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(slot(i) for i in range(concurrency)))
        stats.seconds = time.perf_counter() - started
    return stats


def drive(live: Live, requests: dict[str, Request], seconds: float, concurrency: int) -> Stats:
    """Run the mix against ``live`` for ``seconds`` with ``concurrency`` requests in flight."""
    return asyncio.run(_drive(live.base, requests, seconds, concurrency))


@contextmanager
def database(kind: str) -> Iterator[dict | None]:
    """The server environment for ``kind``: None for SQLite in the data folder, or a fresh PostgreSQL
    database (dropped afterwards)."""
    if kind == "sqlite":
        yield None
        return
    name = f"bench_{secrets.token_hex(4)}"
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], check=True)
    try:
        yield {"LONGTRUST_DATABASE_URL": PG_SERVER + name}
    finally:
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--force", name], check=True)


def stretch(live: Live, requests: dict[str, Request], concurrency: int, seconds: float) -> dict:
    """One stretch of the mix, as bench.live_server.interleaved takes a target's run."""
    stats = drive(live, requests, seconds, concurrency)
    return {
        "rps": stats.rate(),
        "errors": len(stats.errors),
        "output": "\n".join(stats.errors[:5]),
        "stats": stats,
    }


def in_rounds(configs: list[tuple[str, int]], seconds: float, concurrency: int, rounds: int = 4):
    """Stats per (kind, workers) over ``rounds`` interleaved rounds of seconds / rounds each, every
    server up at once (bench.live_server.interleaved)."""
    with contextlib.ExitStack() as stack:
        targets = {}
        for kind, workers in configs:
            env = stack.enter_context(database(kind))
            live = stack.enter_context(serve(workers, env))
            targets[kind, workers] = functools.partial(stretch, live, workload(live, env), concurrency)
        runs = interleaved(targets, seconds / rounds, rounds, warmup=min(3.0, seconds))
    results = {key: Stats() for key in runs}
    for key, stretches in runs.items():
        for run in stretches:
            results[key].add(run["stats"])
    return results


def print_stats(title: str, stats: Stats) -> None:
    print(f"{title}: {stats.rate():7.1f} requests/s in {stats.seconds:.0f} s, errors {len(stats.errors)}")
    for name, values in stats.latencies.items():
        print(
            f"  {name:<16} {stats.rate(name):7.1f}/s  p50 {percentile(values, 0.5) * 1000:7.1f} ms  "
            f"p99 {percentile(values, 0.99) * 1000:7.1f} ms"
        )
    for error in stats.errors[:5]:
        print("  error:", error)


def print_ratio(title: str, subject: Stats, baseline: Stats, target: float | None = None) -> None:
    ratio = subject.rate() / baseline.rate()
    verdict = "" if target is None else ("  ok" if ratio >= target else f"  BELOW {target}")
    print(f"{title}: {subject.rate():.1f}/s ÷ {baseline.rate():.1f}/s = {ratio:.2f}x{verdict}")
    for name in subject.latencies:
        print(f"  {name:<16} {subject.rate(name) / max(baseline.rate(name), 1e-9):5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    kinds = ["sqlite"] + ([] if args.no_postgres else ["postgresql"])
    results = in_rounds([(k, w) for k in kinds for w in (1, 2)], args.seconds, args.concurrency)
    for (kind, workers), stats in results.items():
        print_stats(f"{kind}, {workers} worker(s), {args.concurrency} in flight", stats)
    failed = any(s.errors for s in results.values())
    print("-- ratios measured in this run (load generator on the same machine) --")
    for kind in kinds:
        print_ratio(f"{kind}: workers 2 ÷ workers 1", results[kind, 2], results[kind, 1], 1.5)
    if "postgresql" in kinds:
        print_ratio("2 workers: PostgreSQL ÷ SQLite", results["postgresql", 2], results["sqlite", 2], 0.9)
    if failed:
        raise SystemExit("errors or non-2xx answers during the run")


if __name__ == "__main__":
    main()
