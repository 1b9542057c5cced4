"""Pre-signed OCSP over HTTP: `longtrust serve --workers 2` against cfssl's `ocspserve`, same answer.

Run: `.venv/bin/python -m bench.bench_ocsp [--seconds S] [--rounds R]`. An RSA certificate is issued on
a fresh server (SQLite); its nonce-less OCSP request is sent to our server, and the very response DER it
answers is loaded into `cfssl ocspserve` (Debian's golang-cfssl), so both sides serve the same
pre-signed answer for the same request. wrk (keep-alive, 2 threads, 16 connections) drives GET and
POST on both, interleaved round by round; the ratio is ours ÷ cfssl (the bar is 1.0). Debian's cfssl
1.2.0 `ocspserve` answers no GET (it base64-decodes the path with its leading "/" and answers 400), so
our GET is compared with its POST of the same request.
"""

from __future__ import annotations

import argparse
import base64
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from asn1crypto import pem, x509

from app.settings import Settings
from bench.live_server import free_port, serve, wrk
from tests.ca.csrs import make_csr, ocsp_request

ISSUER = "91440300708461136T"


def issued_request(base: str, admin_token: str) -> bytes:
    """The DER OCSP request for a freshly issued RSA certificate."""
    admin = {"Authorization": f"Bearer {admin_token}"}
    token = httpx.post(
        base + "/api/v1/tokens", headers=admin, json={"role": "ca-operator", "name": "bench"}
    ).json()["token"]
    issued = httpx.post(
        base + "/api/v1/cas/rsa-issuing/certificates",
        headers={"Authorization": f"Bearer {token}"},
        json={"csr_pem": make_csr("rsa").decode(), "profile": "organization-signing", "credit_code": ISSUER},
        timeout=60,
    ).json()
    cert, issuer = (
        x509.Certificate.load(pem.unarmor(issued[k].encode())[2]) for k in ("certificate_pem", "chain_pem")
    )
    return ocsp_request(cert.serial_number, issuer)


def cfssl_ocspserve(responses: Path, port: int) -> subprocess.Popen:
    if shutil.which("cfssl") is None:
        raise SystemExit("cfssl is not installed: apt-get install golang-cfssl")
    proc = subprocess.Popen(
        ["cfssl", "ocspserve", "-responses", str(responses), "-address", "127.0.0.1", "-port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("cfssl ocspserve did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-access-log", action="store_true", help="LONGTRUST_ACCESS_LOG=false")
    default_every = Settings.model_fields["ocsp_log_every"].default
    parser.add_argument("--log-every", type=int, default=default_every, help="LONGTRUST_OCSP_LOG_EVERY")
    args = parser.parse_args()
    env = {"LONGTRUST_OCSP_LOG_EVERY": str(args.log_every)}
    if args.no_access_log:
        env["LONGTRUST_ACCESS_LOG"] = "false"
    with serve(workers=2, env=env) as live, tempfile.TemporaryDirectory() as tmp:
        request = issued_request(live.base, live.admin_token)
        encoded = base64.urlsafe_b64encode(request).decode()
        ours = httpx.get(f"{live.base}/ocsp/{encoded}").content
        responses = Path(tmp) / "responses"
        responses.write_text(base64.b64encode(ours).decode() + "\n")
        port = free_port()
        cfssl = cfssl_ocspserve(responses, port)
        try:
            theirs = httpx.post(f"http://127.0.0.1:{port}/", content=request).content
            if theirs != ours:
                raise SystemExit("cfssl does not serve the same answer; nothing to compare")
            cases = {
                "POST": (f"{live.base}/ocsp", f"http://127.0.0.1:{port}/", "POST"),
                "GET": (f"{live.base}/ocsp/{encoded}", f"http://127.0.0.1:{port}/", "GET"),
            }
            totals = {(name, side): 0.0 for name in cases for side in (0, 1)}
            for _ in range(args.rounds):
                for name, (url_ours, url_cfssl, method) in cases.items():
                    for side, url in enumerate((url_ours, url_cfssl)):
                        post = method == "POST" or side == 1
                        stats = wrk(
                            url,
                            method="POST" if post else "GET",
                            body=request if post else b"",
                            headers={"Content-Type": "application/ocsp-request"} if post else {},
                            seconds=args.seconds,
                        )
                        if stats["non2xx"] or stats["errors"]:
                            raise SystemExit(f"{name} side {side}: {stats}")
                        totals[name, side] += stats["rps"] / args.rounds
        finally:
            cfssl.terminate()
            cfssl.wait(timeout=10)
    logged = "no access log" if args.no_access_log else f"access log of one answer in {args.log_every}"
    logged += " (the default)" if args.log_every == default_every and not args.no_access_log else ""
    print(
        f"pre-signed OCSP, wrk 2 threads 16 connections keep-alive, {args.rounds} rounds of {args.seconds} s,"
        f" {logged} (cfssl ocspserve logs no answered request)"
    )
    for name in cases:
        ours_rps, cfssl_rps = totals[name, 0], totals[name, 1]
        verdict = "ok" if ours_rps >= cfssl_rps else "BELOW 1.0"
        print(
            f"OCSP {name:<4} longtrust 2 workers {ours_rps:8.0f}/s   baseline cfssl ocspserve POST "
            f"{cfssl_rps:8.0f}/s   ratio {ours_rps / cfssl_rps:5.2f}x {verdict}"
        )


if __name__ == "__main__":
    main()
