"""Certificate issuance over HTTP: `longtrust serve` with 1 and 2 workers against `cfssl serve`, and on
PostgreSQL against the same server on SQLite.

Run: `.venv/bin/python -m bench.bench_issue_http [seconds] [postgresql] [--rounds N]`. All servers
run at once, each on a fresh database: one worker, two workers, (with `postgresql`) two workers on
SQLite, and cfssl's `serve` signing endpoint (`/api/v1/cfssl/sign`, RSA-2048 CA made with openssl,
no storage: it keeps nothing). wrk (2 threads, 16 connections, keep-alive) posts the same RSA-2048
(and SM2) CSR to each in turn for S seconds (4), N rounds (5), interleaved. Lines: 2 workers ÷ cfssl
(RSA; ours also writes the intent, the certificate and the audit events), workers 2 ÷ workers 1 (the
issue's bar is 1.5 on PostgreSQL), and PostgreSQL ÷ SQLite at 2 workers (bar 0.9): same requests,
same work. OCSP is measured by bench/bench_ocsp.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.bench_mixed import database
from bench.live_server import Target, free_port, interleaved, ratio_line, server
from tests.ca.csrs import make_csr

USCC = "91440300708461136T"
CFSSL_CONFIG = {
    "signing": {"default": {"expiry": "8760h", "usages": ["digital signature", "content commitment"]}}
}


@contextmanager
def ours(workers: int, kind: str) -> Iterator[dict[str, Target]]:
    """RSA and SM2 issuance targets on a fresh server with ``workers`` workers."""
    with database(kind) as env, server(workers=workers, env=env) as (base, admin, _):
        auth = {"Authorization": f"Bearer {admin}"}
        operator = httpx.post(
            base + "/api/v1/tokens", headers=auth, json={"role": "ca-operator", "name": "bench"}
        ).json()["token"]
        headers = {"Authorization": f"Bearer {operator}", "Content-Type": "application/json"}
        targets = {}
        for algorithm in ("rsa", "sm2"):
            body = json.dumps(
                {
                    "csr_pem": make_csr(algorithm).decode(),
                    "profile": "organization-signing",
                    "credit_code": USCC,
                }
            ).encode()
            targets[algorithm] = Target(f"{base}/api/v1/cas/{algorithm}-issuing/certificates", body, headers)
        yield targets


@contextmanager
def cfssl() -> Iterator[Target]:
    """`cfssl serve`'s sign endpoint with an RSA-2048 CA, same CSR."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=bench CA",
                "-days",
                "30",
            ]
            + ["-keyout", str(folder / "key.pem"), "-out", str(folder / "ca.pem")],
            check=True,
            capture_output=True,
        )
        (folder / "config.json").write_text(json.dumps(CFSSL_CONFIG))
        port = free_port()
        proc = subprocess.Popen(
            ["cfssl", "serve", "-address", "127.0.0.1", "-port", str(port)]
            + ["-ca", str(folder / "ca.pem"), "-ca-key", str(folder / "key.pem")]
            + ["-config", str(folder / "config.json"), "-loglevel", "5"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}/api/v1/cfssl/sign"
        body = json.dumps({"certificate_request": make_csr("rsa").decode()}).encode()
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    answer = httpx.post(url, content=body, timeout=5)
                    if answer.json().get("success"):
                        break
                    raise SystemExit(f"cfssl refused the CSR: {answer.text[:300]}")
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise SystemExit("cfssl serve did not start") from None
                    time.sleep(0.2)
            yield Target(url, body, {"Content-Type": "application/json"})
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def main(seconds: int = 4, kind: str = "sqlite", rounds: int = 5) -> None:
    with contextlib.ExitStack() as stack:
        one = stack.enter_context(ours(1, kind))
        two = stack.enter_context(ours(2, kind))
        sqlite = stack.enter_context(ours(2, "sqlite")) if kind != "sqlite" else {}
        targets = {("one", a): t for a, t in one.items()} | {("two", a): t for a, t in two.items()}
        targets |= {("sqlite", a): t for a, t in sqlite.items()}
        targets[("cfssl", "rsa")] = stack.enter_context(cfssl())
        runs = interleaved(targets, seconds, rounds)
    rps = {key: [r["rps"] for r in results] for key, results in runs.items()}
    print(
        f"issuance over HTTP on {kind}: all servers up at once, wrk 2 threads 16 connections, "
        f"{rounds} interleaved rounds of {seconds} s; medians, ratios per round (min-max)"
    )
    p99 = statistics.median(r["p99"] for r in runs[("two", "rsa")]) / 1000
    print(
        ratio_line(
            "issue RSA, 2 workers",
            rps[("two", "rsa")],
            "cfssl serve (no storage)",
            rps[("cfssl", "rsa")],
            extra=f"p99 {p99:.1f} ms",
        )
    )
    comparisons = [("2 workers", "one", "1 worker", 1.5)]
    if sqlite:
        comparisons.append((f"{kind} 2 workers", "sqlite", "sqlite 2 workers", 0.9))
    for label, base, base_name, target in comparisons:
        for algorithm in ("rsa", "sm2"):
            line = f"issue {algorithm.upper()}, {label}"
            print(ratio_line(line, rps[("two", algorithm)], base_name, rps[(base, algorithm)], target=target))


if __name__ == "__main__":
    arguments = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    arguments.add_argument("seconds", nargs="?", type=int, default=4, help="of each wrk run (4)")
    arguments.add_argument("kind", nargs="?", choices=("sqlite", "postgresql"), default="sqlite")
    arguments.add_argument("--rounds", type=int, default=5, help="interleaved rounds (5)")
    options = arguments.parse_args()
    main(options.seconds, options.kind, options.rounds)
