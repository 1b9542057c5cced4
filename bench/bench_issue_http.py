"""Certificate issuance and OCSP over HTTP against `longtrust serve --workers 2` (SQLite).

Run: `.venv/bin/python -m bench.bench_issue_http`. Targets: >= 500 SM2 and >= 1,000 RSA
certificates/s, >= 5,000 OCSP responses/s. Baseline in the same run: issuance in process, one
thread, through the same CAService (so the ratio shows what HTTP and a second worker add).
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
from pathlib import Path

import httpx
from asn1crypto import ocsp, pem, x509

from bench.harness import Result, rate, report
from bench.live_server import server, wrk
from tests.ca.csrs import make_csr

USCC = "91440300708461136T"


def in_process_rates() -> dict[str, Result]:
    """Single-threaded CAService.issue rates on a fresh SQLite data folder."""
    from app.cli import initialise
    from app.container import build_services
    from app.settings import Settings

    with tempfile.TemporaryDirectory(prefix="longtrust-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        initialise(settings)
        services = build_services(settings)
        try:
            return {
                kind: rate(
                    f"in-process issue ({kind})",
                    lambda c=make_csr(kind), ca=ca_id: services.ca.issue(
                        ca, c, "organization-signing", "bench", USCC
                    ),
                    seconds=3,
                )
                for ca_id, kind in (("sm2-issuing", "sm2"), ("rsa-issuing", "rsa"))
            }
        finally:
            services.close()


def main(seconds: int = 10) -> None:
    ceilings = in_process_rates()
    with server(workers=2) as (base, admin, _):
        auth = {"Authorization": f"Bearer {admin}"}
        operator = httpx.post(
            base + "/api/v1/tokens", headers=auth, json={"role": "ca-operator", "name": "bench"}
        ).json()["token"]
        headers = {"Authorization": f"Bearer {operator}", "Content-Type": "application/json"}
        for ca_id, kind, target in (("sm2-issuing", "sm2", 500), ("rsa-issuing", "rsa", 1000)):
            body = json.dumps(
                {"csr_pem": make_csr(kind).decode(), "profile": "organization-signing", "credit_code": USCC}
            ).encode()
            stats = wrk(
                f"{base}/api/v1/cas/{ca_id}/certificates", body=body, headers=headers, seconds=seconds
            )
            print(
                f"issue {kind.upper():<4} over HTTP: {stats['rps']:8.0f}/s  "
                f"p50 {stats['p50'] / 1000:.1f} ms  "
                f"p99 {stats['p99'] / 1000:.1f} ms  non-2xx {stats['non2xx']}  target {target}/s  "
                f"{'ok' if stats['rps'] >= target else 'BELOW'}"
            )
            print("  " + report(Result(f"issue {kind} over HTTP", stats["rps"]), ceilings[kind]))

        issued = httpx.post(
            f"{base}/api/v1/cas/rsa-issuing/certificates",
            headers=headers,
            json={
                "csr_pem": make_csr("rsa").decode(),
                "profile": "organization-signing",
                "credit_code": USCC,
            },
        ).json()
        cert = x509.Certificate.load(pem.unarmor(issued["certificate_pem"].encode())[2])
        ca = x509.Certificate.load(pem.unarmor(httpx.get(base + "/ca-certs/rsa-issuing.pem").content)[2])
        request = ocsp.OCSPRequest(
            {
                "tbs_request": {
                    "request_list": [
                        {
                            "req_cert": {
                                "hash_algorithm": {"algorithm": "sha1"},
                                "issuer_name_hash": hashlib.sha1(ca.subject.dump()).digest(),
                                "issuer_key_hash": hashlib.sha1(
                                    ca.public_key["public_key"].contents[1:]
                                ).digest(),
                                "serial_number": cert.serial_number,
                            }
                        }
                    ]
                }
            }
        ).dump()
        get_url = base + "/ocsp/" + base64.urlsafe_b64encode(request).decode()
        stats = wrk(get_url, method="GET", seconds=seconds)
        print(
            f"OCSP GET (pre-signed) over HTTP: {stats['rps']:8.0f}/s  p99 {stats['p99'] / 1000:.1f} ms  "
            f"non-2xx {stats['non2xx']}  target 5000/s  {'ok' if stats['rps'] >= 5000 else 'BELOW'}"
        )


if __name__ == "__main__":
    main()
