"""Seals, licenses and verification over HTTP against `longtrust serve --workers 2`, with wrk.

Run: `.venv/bin/python -m bench.bench_services_http [seconds] [postgresql] [stamp]` (SQLite unless
`postgresql` is given: then each server runs on a fresh PostgreSQL database, dropped afterwards;
`stamp` runs the SM2 data-stamp line alone). A server with one worker (the baseline: the same
requests, the same work) and one with two run at once; wrk drives every line on each in turn for S
seconds (4), five rounds, interleaved, and each line prints both medians and the ratio workers 2 ÷
workers 1 (ideal 2.0 on two free cores; wrk runs on the same machine). The SM2 data-stamp line also
prints the ratio to two cores of `openssl speed sm2` signing, measured in every round (the issue's
bar: >= 0.15).
"""

from __future__ import annotations

import base64
import contextlib
import json
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import httpx

from bench.bench_mixed import database
from bench.harness import openssl_speed
from bench.live_server import Target, approved, interleaved, ratio_line, server
from tests.seal_service.test_pdf import make_pdf, make_png

ISSUER = "11100000000013338W"
TYPE_CODE = ISSUER + "001"


def expect_passed(url: str, **kwargs) -> None:
    """Benchmark the successful path only: the document must verify before it is timed."""
    report = httpx.post(url, timeout=60, **kwargs).json()
    if report.get("indication") != "TOTAL_PASSED":
        raise SystemExit(f"{url} does not pass, so it is not worth timing: {report}")


TARGETS = {
    "data stamp (SM2)": 1500,
    "PDF stamp B-B (RSA)": 100,
    "PDF stamp B-B (SM2)": 100,
    "license issuance (stamped)": 300,
    "license verification": 1500,
    "PDF verification (RSA B-B)": 100,
}


@contextmanager
def targets(workers: int, kind: str = "sqlite", stamp_only: bool = False) -> Iterator[dict[str, Target]]:
    """The request of every line (or of the data-stamp line alone) on a fresh server with ``workers``
    workers on ``kind``; the documents to verify are checked to pass first."""
    results = {}
    with database(kind) as env, server(workers=workers, env=env) as (base, admin_token, data_dir):
        admin = {"Authorization": f"Bearer {admin_token}"}
        seals = {}
        for algorithm in ("sm2", "rsa"):
            requested = httpx.post(
                base + "/api/v1/seals",
                headers=admin,
                timeout=60,
                json={
                    "name": "基准测试章",
                    "owner_credit_code": ISSUER,
                    "type": 1,
                    "algorithm": algorithm,
                    "image_png_b64": base64.b64encode(make_png()).decode(),
                },
            )
            seals[algorithm] = approved(base, requested, data_dir, env).json()["seal_id"]  # dual control
        stamper = httpx.post(
            base + "/api/v1/tokens",
            headers=admin,
            json={"role": "approval-system", "name": "bench", "seals": list(seals.values())},
        ).json()["token"]
        registry = httpx.post(
            base + "/api/v1/tokens",
            headers=admin,
            json={"role": "registry-operator", "name": "bench-registry", "seals": list(seals.values())},
        ).json()["token"]
        auth = {"Authorization": f"Bearer {stamper}"}
        reg = {"Authorization": f"Bearer {registry}", "Content-Type": "application/json"}

        document = {
            "licence": "营业执照",
            "number": 42,
            "holder": {"name": "张三", "id": "11010519491231002X"},
        }
        body = json.dumps(document).encode()
        results["data stamp (SM2)"] = Target(
            f"{base}/api/v1/seals/{seals['sm2']}/stamp/data",
            body,
            {**auth, "Content-Type": "application/json"},
        )
        if stamp_only:
            yield results
            return

        pdf = make_pdf()
        for algorithm in ("rsa", "sm2"):
            results[f"PDF stamp B-B ({algorithm.upper()})"] = Target(
                f"{base}/api/v1/seals/{seals[algorithm]}/stamp/pdf",
                pdf,
                {**auth, "Content-Type": "application/pdf"},
            )

        httpx.post(
            base + "/api/v1/license-types",
            headers=reg,
            json={
                "type_code": TYPE_CODE,
                "name": "基准许可证",
                "issuer_code": ISSUER,
                "holder_kind": "person",
                "schema": {"type": "object"},
            },
        )
        license_body = json.dumps(
            {
                "type_code": TYPE_CODE,
                "holder": {"name": "张三", "id_number": "11010519491231002X"},
                "data": {"n": 1},
                "valid_from": date.today().isoformat(),
                "seal_id": seals["sm2"],
            }
        ).encode()
        results["license issuance (stamped)"] = Target(f"{base}/api/v1/licenses", license_body, reg)
        issued = httpx.post(base + "/api/v1/licenses", headers=reg, content=license_body, timeout=60).json()
        expect_passed(base + "/api/v1/verify/license", json=issued)
        results["license verification"] = Target(
            f"{base}/api/v1/verify/license", json.dumps(issued).encode(), {"Content-Type": "application/json"}
        )
        stamped = httpx.post(
            f"{base}/api/v1/seals/{seals['rsa']}/stamp/pdf",
            content=pdf,
            timeout=60,
            headers={**auth, "Content-Type": "application/pdf"},
        ).content
        expect_passed(
            base + "/api/v1/verify/pdf", content=stamped, headers={"Content-Type": "application/pdf"}
        )
        results["PDF verification (RSA B-B)"] = Target(
            f"{base}/api/v1/verify/pdf", stamped, {"Content-Type": "application/pdf"}
        )
        yield results


def two_cores_of_openssl_sm2(seconds: int) -> dict:
    """Two cores of `openssl speed sm2` signing (one process measured, doubled), as a wrk-like dict."""
    sign, _ = openssl_speed("sm2", seconds=max(1, seconds // 2))
    return {"rps": 2 * sign}


def main(seconds: int = 4, kind: str = "sqlite", stamp_only: bool = False, rounds: int = 5) -> None:
    with contextlib.ExitStack() as stack:
        one = stack.enter_context(targets(1, kind, stamp_only))
        two = stack.enter_context(targets(2, kind, stamp_only))
        lines = {(1, name): t for name, t in one.items()} | {(2, name): t for name, t in two.items()}
        runs = interleaved(lines | {"openssl": two_cores_of_openssl_sm2}, seconds, rounds)
    rps = {key: [r["rps"] for r in results] for key, results in runs.items()}
    print(
        f"{kind}: servers with 1 and 2 workers up at once, wrk 2 threads 16 connections, {rounds} "
        f"interleaved rounds of {seconds} s; medians, ratios per round (min-max)"
    )
    for name, target in TARGETS.items():
        if name in two:
            p99 = statistics.median(r["p99"] for r in runs[(2, name)]) / 1000
            line = ratio_line(
                f"{name}, 2 workers", rps[(2, name)], "1 worker", rps[(1, name)], extra=f"p99 {p99:.1f} ms"
            )
            verdict = "ok" if statistics.median(rps[(2, name)]) >= target else "BELOW"
            print(f"{line}  target {target:.0f}/s {verdict}")
    print(
        ratio_line(
            "data stamp (SM2), 2 workers",
            rps[(2, "data stamp (SM2)")],
            "2 x openssl speed sm2 sign",
            rps["openssl"],
            target=0.15,
        )
    )


if __name__ == "__main__":
    numbers = [int(a) for a in sys.argv[1:] if a.isdigit()]
    main(
        *numbers[:1],
        kind="postgresql" if "postgresql" in sys.argv else "sqlite",
        stamp_only="stamp" in sys.argv,
    )
