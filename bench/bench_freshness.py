"""What one truth across processes costs: OCSP and license verification over HTTP with 2 workers,
with the per-request freshness check on (the product) and off (the baseline: caches trusted until
restart), in the same run, interleaved.

Run: `.venv/bin/python -m bench.bench_freshness [seconds] [postgresql-url]`. Without a URL the
servers run on SQLite in a temporary folder. The issue's bar is a ratio of at least 0.90.
"""

from __future__ import annotations

import base64
import json
import sys
from datetime import date

import httpx
from asn1crypto import pem, x509

from bench.live_server import server, wrk
from tests.ca.csrs import make_csr, ocsp_request
from tests.seal_service.test_pdf import make_png

ISSUER = "11100000000013338W"
TYPE_CODE = ISSUER + "001"
ROUNDS = 2


def _post(base: str, path: str, headers: dict, body: dict) -> dict:
    r = httpx.post(base + path, headers=headers, json=body, timeout=60)
    if r.status_code == 202:  # a second administrator approves, as the policy asks
        approver = _token(base, headers, "security-admin", [])
        r = httpx.post(
            f"{base}/api/v1/approvals/{r.json()['request_id']}/approve", headers=approver, timeout=60
        )
    r.raise_for_status()
    return r.json()


def _token(base: str, admin: dict, role: str, seals: list[str]) -> dict:
    body = {"role": role, "name": f"bench-{role}", "seals": seals}
    return {"Authorization": f"Bearer {_post(base, '/api/v1/tokens', admin, body)['token']}"}


def workload(base: str, admin_token: str) -> dict[str, tuple[str, bytes, dict]]:
    """name → (url, body, headers) of one request that succeeds; checked before it is timed."""
    admin = {"Authorization": f"Bearer {admin_token}"}
    operator = _token(base, admin, "ca-operator", [])
    issued = _post(
        base,
        "/api/v1/cas/sm2-issuing/certificates",
        operator,
        {"csr_pem": make_csr("sm2").decode(), "profile": "organization-signing", "credit_code": ISSUER},
    )
    cert, issuer = (
        x509.Certificate.load(pem.unarmor(issued[k].encode())[2]) for k in ("certificate_pem", "chain_pem")
    )
    seal = {
        "name": "基准测试章",
        "owner_credit_code": ISSUER,
        "type": 1,
        "algorithm": "sm2",
        "image_png_b64": base64.b64encode(make_png()).decode(),
    }
    seal_id = _post(base, "/api/v1/seals", admin, seal)["seal_id"]
    registry = _token(base, admin, "registry-operator", [seal_id])
    schema = {"type": "object"}
    kind = {
        "type_code": TYPE_CODE,
        "name": "基准许可证",
        "issuer_code": ISSUER,
        "holder_kind": "person",
        "schema": schema,
    }
    _post(base, "/api/v1/license-types", registry, kind)
    document = _post(
        base,
        "/api/v1/licenses",
        registry,
        {
            "type_code": TYPE_CODE,
            "holder": {"name": "张三", "id_number": "11010519491231002X"},
            "data": {"n": 1},
            "valid_from": date.today().isoformat(),
            "seal_id": seal_id,
        },
    )
    report = httpx.post(base + "/api/v1/verify/license", json=document, timeout=60).json()
    if report["indication"] != "TOTAL_PASSED":
        raise SystemExit(f"the license does not verify, so it is not worth timing: {report}")
    return {
        "OCSP (pre-signed, POST)": (
            base + "/ocsp",
            ocsp_request(cert.serial_number, issuer),
            {"Content-Type": "application/ocsp-request"},
        ),
        "license verification": (
            base + "/api/v1/verify/license",
            json.dumps(document).encode(),
            {"Content-Type": "application/json"},
        ),
    }


def measure(check: bool, seconds: int, database_url: str | None) -> dict[str, float]:
    env = {"LONGTRUST_FRESHNESS_CHECK": "true" if check else "false"}
    if database_url:
        env["LONGTRUST_DATABASE_URL"] = database_url
    with server(workers=2, env=env) as (base, admin_token, _):
        rates = {}
        for name, (url, body, headers) in workload(base, admin_token).items():
            stats = wrk(url, body=body, headers=headers, seconds=seconds)
            if stats["non2xx"]:
                raise SystemExit(f"{name}: {stats['non2xx']} answers were not 2xx")
            rates[name] = stats["rps"]
        return rates


def main(seconds: int = 8, database_url: str | None = None) -> None:
    totals: dict[bool, dict[str, float]] = {True: {}, False: {}}
    for _ in range(ROUNDS):
        for check in (False, True):
            for name, rps in measure(check, seconds, database_url).items():
                totals[check][name] = totals[check].get(name, 0.0) + rps / ROUNDS
    where = "PostgreSQL" if database_url else "SQLite"
    print(f"2 workers on {where}, wrk 16 connections, {ROUNDS} interleaved rounds of {seconds} s")
    for name, off in totals[False].items():
        on = totals[True][name]
        verdict = "ok" if on / off >= 0.90 else "BELOW 0.90"
        print(
            f"{name:<26} check on {on:8.0f}/s   off (baseline) {off:8.0f}/s   ratio {on / off:5.2f} {verdict}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8, sys.argv[2] if len(sys.argv) > 2 else None)
