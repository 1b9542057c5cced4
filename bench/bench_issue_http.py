"""Certificate issuance over HTTP: `longtrust serve` with 1 and 2 workers against `cfssl serve`, and on
PostgreSQL against the same server on SQLite.

Run: `.venv/bin/python -m bench.bench_issue_http [seconds] [postgresql]`. wrk (2 threads, 16 connections,
keep-alive) posts the same RSA-2048 (and SM2) CSR for S seconds to: a fresh server with one worker, cfssl's
`serve` signing endpoint (`/api/v1/cfssl/sign`, RSA-2048 CA made with openssl, no storage: it keeps
nothing), and a fresh server with two workers, in that order, in the same run. Lines: 2 workers ÷ cfssl
(RSA; ours also writes the intent, the certificate and the audit events), and workers 2 ÷ workers 1 (the
issue's bar is 1.5 on PostgreSQL). With `postgresql` the servers run on a fresh PostgreSQL database each,
and a fresh two-worker server on SQLite follows: PostgreSQL ÷ SQLite at 2 workers (bar 0.9), same
requests, same work. OCSP is measured by bench/bench_ocsp.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.bench_mixed import database
from bench.live_server import free_port, server, wrk
from tests.ca.csrs import make_csr

USCC = "91440300708461136T"
CFSSL_CONFIG = {
    "signing": {"default": {"expiry": "8760h", "usages": ["digital signature", "content commitment"]}}
}


def ours(workers: int, kind: str, seconds: int) -> dict[str, dict]:
    """wrk stats of RSA and SM2 issuance against a fresh server with ``workers`` workers."""
    stats = {}
    with database(kind) as env, server(workers=workers, env=env) as (base, admin, _):
        auth = {"Authorization": f"Bearer {admin}"}
        operator = httpx.post(
            base + "/api/v1/tokens", headers=auth, json={"role": "ca-operator", "name": "bench"}
        ).json()["token"]
        headers = {"Authorization": f"Bearer {operator}", "Content-Type": "application/json"}
        for algorithm in ("rsa", "sm2"):
            body = json.dumps(
                {
                    "csr_pem": make_csr(algorithm).decode(),
                    "profile": "organization-signing",
                    "credit_code": USCC,
                }
            ).encode()
            stats[algorithm] = wrk(
                f"{base}/api/v1/cas/{algorithm}-issuing/certificates",
                body=body,
                headers=headers,
                seconds=seconds,
            )
    return stats


def cfssl(seconds: int) -> dict:
    """wrk stats of `cfssl serve`'s sign endpoint with an RSA-2048 CA, same CSR."""
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
            return wrk(url, body=body, headers={"Content-Type": "application/json"}, seconds=seconds)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _check(name: str, stats: dict) -> None:
    if stats["non2xx"] or stats["errors"] or not stats["rps"]:
        raise SystemExit(
            f"{name}: {stats['non2xx']} non-2xx answers, {stats['errors']} errors, {stats['rps']}/s"
        )


def main(seconds: int = 8, kind: str = "sqlite") -> None:
    one = ours(1, kind, seconds)
    peer = cfssl(seconds)
    two = ours(2, kind, seconds)
    sqlite = ours(2, "sqlite", seconds) if kind != "sqlite" else None
    runs = [(f"{kind} 1 worker", one), (f"{kind} 2 workers", two), ("sqlite 2 workers", sqlite or {})]
    _check("cfssl", peer)
    for title, run in runs:
        for algorithm, stats in run.items():
            _check(f"{title} {algorithm}", stats)
    print(f"issuance over HTTP on {kind}, wrk 2 threads 16 connections, {seconds} s each, same run")
    rsa = two["rsa"]["rps"]
    print(
        f"issue RSA, 2 workers {rsa:7.0f}/s p99 {two['rsa']['p99'] / 1000:6.1f} ms   baseline cfssl serve "
        f"(no storage) {peer['rps']:7.0f}/s p99 {peer['p99'] / 1000:6.1f} ms  ratio {rsa / peer['rps']:4.2f}x"
    )
    for algorithm in ("rsa", "sm2"):
        r2, r1 = two[algorithm]["rps"], one[algorithm]["rps"]
        verdict = "ok" if r2 / r1 >= 1.5 else "BELOW 1.5"
        print(
            f"issue {algorithm.upper():<3}, 2 workers {r2:7.0f}/s   baseline 1 worker {r1:7.0f}/s   "
            f"ratio {r2 / r1:4.2f}x {verdict}"
        )
    for algorithm in ("rsa", "sm2") if sqlite else ():
        theirs, mine = sqlite[algorithm]["rps"], two[algorithm]["rps"]
        verdict = "ok" if mine / theirs >= 0.9 else "BELOW 0.9"
        print(
            f"issue {algorithm.upper():<3}, {kind} 2 workers {mine:7.0f}/s   baseline sqlite 2 workers "
            f"{theirs:7.0f}/s   ratio {mine / theirs:4.2f}x {verdict}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8, "postgresql" if "postgresql" in sys.argv else "sqlite")
