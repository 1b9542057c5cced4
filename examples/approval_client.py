"""An approval system talking to LongTrust: get a token, request a certificate, stamp a PDF, verify it.

Run against a deployment (Python 3.11+, `pip install httpx cryptography`):

    python examples/approval_client.py --url http://127.0.0.1:8400 \
        --admin-token "$(cat longtrust-data/bootstrap-admin.token)" --seal SEAL_ID \
        --pdf application.pdf --out stamped.pdf

The admin token (security-admin) stands for the operator who provisions the approval system once:
it creates the approval system's own token, granted the seal, and requests a certificate for the
system's key. Every stamp afterwards uses only the approval system's token. Exit status 0 means the
stamped PDF verified as TOTAL_PASSED.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def check(response: httpx.Response) -> httpx.Response:
    """Raise with the problem+json detail when the service refused."""
    if response.is_error:
        try:
            problem = response.json()
            detail = f"{problem.get('title')}: {problem.get('detail')}"
        except ValueError:
            detail = response.text[:200]
        raise SystemExit(
            f"{response.request.method} {response.request.url.path} → {response.status_code} {detail}"
        )
    return response


def create_token(api: httpx.Client, admin_token: str, name: str, seal_id: str) -> str:
    """Step 1: the approval system's own token, allowed to stamp with one seal."""
    body = {"role": "approval-system", "name": name, "seals": [seal_id]}
    answer = check(api.post("/api/v1/tokens", json=body, headers=bearer(admin_token))).json()
    print(f"token for {name}: id {answer['token_id']}")
    return answer["token"]


def request_certificate(api: httpx.Client, admin_token: str, organisation: str, credit_code: str) -> str:
    """Step 2: a key pair made here (it never leaves) and a certificate for it from the RSA issuing CA."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, organisation),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    body = {
        "csr_pem": csr.public_bytes(serialization.Encoding.PEM).decode(),
        "profile": "organization-signing",
        "credit_code": credit_code,
    }
    issued = check(api.post("/api/v1/cas/rsa-issuing/certificates", json=body, headers=bearer(admin_token)))
    print(f"certificate issued: serial {issued.json()['serial_hex']}")
    return issued.json()["certificate_pem"]


def stamp_pdf(api: httpx.Client, token: str, seal_id: str, pdf: bytes) -> bytes:
    """Step 3: stamp page 0 with the seal's lower-left corner 72 points (1 inch) from the page's
    bottom-left corner; B-T adds the service's RFC 3161 time stamp."""
    response = api.post(
        f"/api/v1/seals/{seal_id}/stamp/pdf",
        params={"page": 0, "x": 72, "y": 72, "level": "B-T"},
        content=pdf,
        headers={**bearer(token), "Content-Type": "application/pdf"},
    )
    return check(response).content


def verify_pdf(api: httpx.Client, pdf: bytes) -> dict:
    """Step 4: anyone can verify (no token); the report lists every check."""
    response = api.post("/api/v1/verify/pdf", content=pdf, headers={"Content-Type": "application/pdf"})
    return check(response).json()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8400", help="the LongTrust base URL")
    parser.add_argument("--admin-token", required=True, help="a security-admin token (provisioning only)")
    parser.add_argument("--seal", required=True, help="the seal id the approval system stamps with")
    parser.add_argument("--pdf", required=True, type=Path, help="the PDF to stamp")
    parser.add_argument("--out", type=Path, help="write the stamped PDF here")
    parser.add_argument("--name", default="行政审批系统", help="the approval system's name")
    parser.add_argument("--credit-code", default="11100000000013338W", help="its body's credit code")
    args = parser.parse_args(argv)

    with httpx.Client(base_url=args.url, timeout=60) as api:
        token = create_token(api, args.admin_token, args.name, args.seal)
        request_certificate(api, args.admin_token, "某行政审批局", args.credit_code)
        stamped = stamp_pdf(api, token, args.seal, args.pdf.read_bytes())
        if args.out:
            args.out.write_bytes(stamped)
        report = verify_pdf(api, stamped)
    for item in report.get("checks", []):
        print(f"  {item['result']:>13}  {item['name']}: {item.get('detail', '')}")
    print(f"verification: {report['indication']}")
    return 0 if report["indication"] == "TOTAL_PASSED" else 1


if __name__ == "__main__":
    sys.exit(main())
