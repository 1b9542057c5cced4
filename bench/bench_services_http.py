"""Seals, licenses and verification over HTTP against `longtrust serve --workers 2` (SQLite), with wrk.

Run: `.venv/bin/python -m bench.bench_services_http [seconds]`. Each line prints the target from the
issues; the baseline measured in the same run is the in-process cost of the same operation, so the
ratio shows what HTTP, JSON and the database add.
"""

from __future__ import annotations

import base64
import json
import sys
from datetime import date

import httpx
import rfc8785

from bench.harness import Result, rate
from bench.live_server import approved, server, wrk
from keys.signer import SM2Signer
from keys.sm2 import SM2PrivateKey
from tests.seal_service.test_pdf import make_pdf, make_png

ISSUER = "11100000000013338W"
TYPE_CODE = ISSUER + "001"


def expect_passed(url: str, **kwargs) -> None:
    """Benchmark the successful path only: the document must verify before it is timed."""
    report = httpx.post(url, timeout=60, **kwargs).json()
    if report.get("indication") != "TOTAL_PASSED":
        raise SystemExit(f"{url} does not pass, so it is not worth timing: {report}")


def line(name: str, stats: dict, target: float, baseline: Result | None = None) -> None:
    verdict = "ok" if stats["rps"] >= target else "BELOW"
    extra = (
        f"  in-process {baseline.per_second:7.0f}/s ({stats['rps'] / baseline.per_second:5.1%})"
        if baseline
        else ""
    )
    print(
        f"{name:<34} {stats['rps']:8.0f}/s  p50 {stats['p50'] / 1000:6.1f} ms  "
        f"p99 {stats['p99'] / 1000:6.1f} ms  "
        f"non-2xx {stats['non2xx']}  target {target:.0f}/s {verdict}{extra}"
    )


def main(seconds: int = 8) -> None:
    with server(workers=2) as (base, admin_token, data_dir):
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
            seals[algorithm] = approved(base, requested, data_dir).json()["seal_id"]  # dual control
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
        line(
            "data stamp (SM2)",
            wrk(
                f"{base}/api/v1/seals/{seals['sm2']}/stamp/data",
                body=body,
                seconds=seconds,
                headers={**auth, "Content-Type": "application/json"},
            ),
            1500,
            rate(
                "in-process SM2 sign of the document",
                lambda s=SM2Signer("b", SM2PrivateKey.generate()): s.sign(rfc8785.dumps(document)),
            ),
        )

        pdf = make_pdf()
        for algorithm in ("rsa", "sm2"):
            line(
                f"PDF stamp B-B ({algorithm.upper()})",
                wrk(
                    f"{base}/api/v1/seals/{seals[algorithm]}/stamp/pdf",
                    body=pdf,
                    seconds=seconds,
                    headers={**auth, "Content-Type": "application/pdf"},
                ),
                100,
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
        line(
            "license issuance (stamped)",
            wrk(f"{base}/api/v1/licenses", body=license_body, headers=reg, seconds=seconds),
            300,
        )
        issued = httpx.post(base + "/api/v1/licenses", headers=reg, content=license_body, timeout=60).json()
        expect_passed(base + "/api/v1/verify/license", json=issued)
        line(
            "license verification",
            wrk(
                f"{base}/api/v1/verify/license",
                body=json.dumps(issued).encode(),
                headers={"Content-Type": "application/json"},
                seconds=seconds,
            ),
            1500,
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
        line(
            "PDF verification (RSA B-B)",
            wrk(
                f"{base}/api/v1/verify/pdf",
                body=stamped,
                seconds=seconds,
                headers={"Content-Type": "application/pdf"},
            ),
            100,
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
