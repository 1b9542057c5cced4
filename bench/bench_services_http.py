"""Seals, licenses and verification over HTTP against `longtrust serve --workers 2`, with wrk.

Run: `.venv/bin/python -m bench.bench_services_http [seconds] [postgresql] [stamp]` (SQLite unless
`postgresql` is given: then each server runs on a fresh PostgreSQL database, dropped afterwards;
`stamp` runs the SM2 data-stamp line alone, quick enough to interleave runs of two commits).
Every request is first sent to a fresh server with one worker (the baseline: the same requests, the
same work), then to a fresh server with two, in the same run; each line prints both rates and the
ratio workers 2 ÷ workers 1 (ideal 2.0 on two free cores; wrk runs on the same machine). The SM2
data-stamp line also prints the ratio to two cores of `openssl speed sm2` signing (the issue's bar:
>= 0.15).
"""

from __future__ import annotations

import base64
import json
import sys
from datetime import date

import httpx

from bench.bench_mixed import database
from bench.harness import openssl_speed
from bench.live_server import approved, server, wrk
from tests.seal_service.test_pdf import make_pdf, make_png

ISSUER = "11100000000013338W"
TYPE_CODE = ISSUER + "001"


def expect_passed(url: str, **kwargs) -> None:
    """Benchmark the successful path only: the document must verify before it is timed."""
    report = httpx.post(url, timeout=60, **kwargs).json()
    if report.get("indication") != "TOTAL_PASSED":
        raise SystemExit(f"{url} does not pass, so it is not worth timing: {report}")


def line(name: str, two: dict, one: dict, target: float) -> None:
    verdict = "ok" if two["rps"] >= target else "BELOW"
    print(
        f"{name:<28} 2 workers {two['rps']:7.0f}/s p50 {two['p50'] / 1000:6.1f} ms "
        f"p99 {two['p99'] / 1000:6.1f} ms"
        f"  baseline 1 worker {one['rps']:7.0f}/s  ratio {two['rps'] / one['rps']:4.2f}x"
        f"  non-2xx {two['non2xx'] + one['non2xx']}  target {target:.0f}/s {verdict}"
    )


TARGETS = {
    "data stamp (SM2)": 1500,
    "PDF stamp B-B (RSA)": 100,
    "PDF stamp B-B (SM2)": 100,
    "license issuance (stamped)": 300,
    "license verification": 1500,
    "PDF verification (RSA B-B)": 100,
}


def measure(workers: int, seconds: int, kind: str = "sqlite", stamp_only: bool = False) -> dict[str, dict]:
    """wrk stats of every line (or of the data-stamp line alone) against a fresh server with
    ``workers`` workers on ``kind``."""
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
        results["data stamp (SM2)"] = wrk(
            f"{base}/api/v1/seals/{seals['sm2']}/stamp/data",
            body=body,
            seconds=seconds,
            headers={**auth, "Content-Type": "application/json"},
        )
        if stamp_only:
            return results

        pdf = make_pdf()
        for algorithm in ("rsa", "sm2"):
            results[f"PDF stamp B-B ({algorithm.upper()})"] = wrk(
                f"{base}/api/v1/seals/{seals[algorithm]}/stamp/pdf",
                body=pdf,
                seconds=seconds,
                headers={**auth, "Content-Type": "application/pdf"},
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
        results["license issuance (stamped)"] = wrk(
            f"{base}/api/v1/licenses", body=license_body, headers=reg, seconds=seconds
        )
        issued = httpx.post(base + "/api/v1/licenses", headers=reg, content=license_body, timeout=60).json()
        expect_passed(base + "/api/v1/verify/license", json=issued)
        results["license verification"] = wrk(
            f"{base}/api/v1/verify/license",
            body=json.dumps(issued).encode(),
            headers={"Content-Type": "application/json"},
            seconds=seconds,
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
        results["PDF verification (RSA B-B)"] = wrk(
            f"{base}/api/v1/verify/pdf",
            body=stamped,
            seconds=seconds,
            headers={"Content-Type": "application/pdf"},
        )
    return results


def main(seconds: int = 5, kind: str = "sqlite", stamp_only: bool = False) -> None:
    one = measure(1, seconds, kind, stamp_only)
    two = measure(2, seconds, kind, stamp_only)
    sm2_sign, _ = openssl_speed("sm2", seconds=3)
    print(f"{kind}, wrk 2 threads 16 connections, {seconds} s per line; 1 worker first, then 2, same run")
    for name, target in TARGETS.items():
        if name in two:
            line(name, two[name], one[name], target)
    rps = two["data stamp (SM2)"]["rps"]
    print(
        f"data stamp (SM2), 2 workers {rps:.0f}/s   baseline 2 x openssl speed sm2 sign {2 * sm2_sign:.0f}/s"
        f"   ratio {rps / (2 * sm2_sign):.3f} (bar 0.15)"
    )


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 5,
        "postgresql" if "postgresql" in sys.argv else "sqlite",
        "stamp" in sys.argv[1:],
    )
