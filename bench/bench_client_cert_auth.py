"""What authenticating by client certificate costs next to a bearer token: one authentication per
simulated request (the generation read once, as the middleware does), certificate and token of the
same role, interleaved in the same run. The baseline is the token.

Run: `.venv/bin/python -m bench.bench_client_cert_auth [calls]` (SQLite in a temporary folder).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from app.cert_credentials import from_pem
from app.cli import initialise
from app.container import build_services
from app.settings import Settings
from tests.ca.csrs import make_csr

ROUNDS = 3


def rate(calls: int, authenticate, services) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        with services.db.generation.request():
            assert authenticate() is not None
    return calls / (time.perf_counter() - start)


def main(calls: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        ceremony = Path(__file__).resolve().parents[1] / "tests" / "ceremony-test.yaml"
        settings = Settings(data_dir=Path(folder), ceremony_file=ceremony)
        initialise(settings)
        services = build_services(settings)
        csr = make_csr("rsa", {"organization_name": "基准", "common_name": "gateway"})
        der = from_pem(services.ca.issue("rsa-issuing", csr, "tls-client", "bench").certificate_pem)
        with services.db.unit_of_work() as s:
            token = services.tokens.issue(s, "approval-system", "gw", "bench", client_cert_der=der).token
        results = {"token (baseline)": [], "client certificate": []}
        for _ in range(ROUNDS):
            results["token (baseline)"].append(
                rate(calls, lambda: services.tokens.authenticate(token), services)
            )
            results["client certificate"].append(
                rate(calls, lambda: services.tokens.authenticate_certificate(der), services)
            )
        services.close()
    best = {name: max(values) for name, values in results.items()}
    for name, value in best.items():
        print(f"{name:20} {value:10.0f} authentications/s (best of {ROUNDS} × {calls})")
    print(f"ratio certificate/token: {best['client certificate'] / best['token (baseline)']:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
