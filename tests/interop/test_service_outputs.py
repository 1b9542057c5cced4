"""What the running service hands out, checked with tools nobody here wrote: OpenSSL and pkilint.

The builder-level interop tests cover every profile in isolation; these cover the deployed
configuration end to end (ceremony, profiles, URLs, responders, TSA), over HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import pem, x509

from tests.ca.csrs import make_csr
from tests.ca.pki import gmssl_sm2
from tests.conftest import auth

pytestmark = [pytest.mark.interop, pytest.mark.slow]
OPENSSL = shutil.which("openssl")
PKILINT = Path(sys.executable).with_name("lint_pkix_cert")
END_ENTITY = ["organization-signing", "organization-encryption", "seal-signer", "seal-maker", "tls-client"]
# pkilint applies RFC 5480's ECDSA rule to SM2 keys (id-ecPublicKey): SM2 encryption certificates
# legitimately carry keyEncipherment/dataEncipherment (GM/T 0015), so that finding is expected.
SM2_CAUSED = {"pkix.key_usage_value_prohibited_for_ec"}


def run(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120, **kw)


def _write(path: Path, der: bytes, kind: str = "CERTIFICATE") -> Path:
    path.write_bytes(pem.armor(kind, der))
    return path


def _issue(client, headers, ca_id, kind, profile):
    body = {"csr_pem": make_csr(kind).decode(), "profile": profile}
    if profile != "seal-maker":
        body["credit_code"] = "91440300708461136T"
    r = client.post(f"/api/v1/cas/{ca_id}/certificates", headers=headers, json=body)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.skipif(not PKILINT.exists(), reason="pkilint not installed (pip install pkilint)")
@pytest.mark.parametrize("ca_id,kind", [("sm2-issuing", "sm2"), ("rsa-issuing", "rsa")])
def test_pkilint_accepts_every_profile_the_service_issues(client, token, services, tmp_path, ca_id, kind):
    headers = auth(token("ca-operator"))
    certs = {p: _issue(client, headers, ca_id, kind, p)["certificate_pem"] for p in END_ENTITY}
    ctx = services.ca.context(ca_id)
    certs["issuing-ca"] = pem.armor("CERTIFICATE", ctx.certificate.dump()).decode()
    certs["ocsp-responder"] = pem.armor("CERTIFICATE", ctx.responder_cert.dump()).decode()
    certs["tsa"] = pem.armor("CERTIFICATE", ctx.tsa_cert.dump()).decode()
    for name, text in certs.items():
        path = tmp_path / f"{name}.pem"
        path.write_text(text)
        out = run(PKILINT, "lint", "-s", "WARNING", "-f", "JSON", path)
        assert out.returncode in (0, 1), out.stderr
        findings = {d["code"] for r in json.loads(out.stdout)["results"] for d in r["finding_descriptions"]}
        expected = SM2_CAUSED if (kind, name) == ("sm2", "organization-encryption") else set()
        assert findings == expected, f"{kind} {name}: {out.stdout}"


needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not installed")


@needs_openssl
def test_openssl_verifies_rsa_chain_crl_ocsp_and_time_stamp(client, token, services, tmp_path):
    headers = auth(token("ca-operator"))
    good = _issue(client, headers, "rsa-issuing", "rsa", "organization-signing")
    bad = _issue(client, headers, "rsa-issuing", "rsa", "organization-signing")
    r = client.post(
        f"/api/v1/cas/rsa-issuing/certificates/{bad['serial_hex']}/revoke",
        headers=headers,
        json={"reason": "keyCompromise"},
    )
    assert r.status_code == 200
    root = _write(tmp_path / "root.pem", services.ca.context("rsa-root").certificate.dump())
    issuing = _write(tmp_path / "issuing.pem", services.ca.context("rsa-issuing").certificate.dump())
    (tmp_path / "good.pem").write_text(good["certificate_pem"])
    (tmp_path / "bad.pem").write_text(bad["certificate_pem"])

    out = run(OPENSSL, "verify", "-CAfile", root, "-untrusted", issuing, tmp_path / "good.pem")
    assert out.returncode == 0 and "good.pem: OK" in out.stdout, out.stdout + out.stderr

    (tmp_path / "crl.der").write_bytes(client.get("/crl/rsa-issuing.crl").content)
    out = run(
        OPENSSL, "crl", "-inform", "DER", "-in", tmp_path / "crl.der", "-CAfile", issuing, "-noout", "-text"
    )
    assert out.returncode == 0 and "verify OK" in out.stderr + out.stdout, out.stderr
    assert bad["serial_hex"].upper().lstrip("0") in out.stdout.upper().replace(":", "")

    for name, expected in (("good", "good"), ("bad", "revoked")):
        req = tmp_path / f"{name}.req"
        # No nonce: the service answers from its pre-signed cache (nonce echo is checked in tests/ca).
        made = run(
            OPENSSL,
            "ocsp",
            "-no_nonce",
            "-issuer",
            issuing,
            "-cert",
            tmp_path / f"{name}.pem",
            "-reqout",
            req,
        )
        assert made.returncode == 0, made.stderr
        response = client.post(
            "/ocsp", content=req.read_bytes(), headers={"Content-Type": "application/ocsp-request"}
        )
        (tmp_path / f"{name}.resp").write_bytes(response.content)
        out = run(
            OPENSSL,
            "ocsp",
            "-no_nonce",
            "-issuer",
            issuing,
            "-cert",
            tmp_path / f"{name}.pem",
            "-respin",
            tmp_path / f"{name}.resp",
            "-CAfile",
            root,
            "-verify_other",
            issuing,
        )
        text = out.stdout + out.stderr
        assert out.returncode == 0 and "Response verify OK" in text, text
        assert f"{name}.pem: {expected}" in text, text

    data = tmp_path / "document.txt"
    data.write_bytes(b"a document to time-stamp")
    query = tmp_path / "q.tsq"
    assert run(OPENSSL, "ts", "-query", "-data", data, "-sha256", "-cert", "-out", query).returncode == 0
    reply = client.post(
        "/tsa", content=query.read_bytes(), headers={"Content-Type": "application/timestamp-query"}
    )
    (tmp_path / "r.tsr").write_bytes(reply.content)
    out = run(
        OPENSSL,
        "ts",
        "-verify",
        "-data",
        data,
        "-in",
        tmp_path / "r.tsr",
        "-CAfile",
        root,
        "-untrusted",
        issuing,
    )
    assert out.returncode == 0 and "Verification: OK" in out.stdout, out.stdout + out.stderr


@needs_openssl
def test_openssl_verifies_sm2_chain_link_by_link(client, token, services, tmp_path):
    leaf = _issue(client, auth(token("ca-operator")), "sm2-issuing", "sm2", "organization-signing")
    (tmp_path / "leaf.pem").write_text(leaf["certificate_pem"])
    root = _write(tmp_path / "root.pem", services.ca.context("sm2-root").certificate.dump())
    issuing = _write(tmp_path / "issuing.pem", services.ca.context("sm2-issuing").certificate.dump())
    distid = "distid:1234567812345678"
    out = run(
        OPENSSL, "verify", "-vfyopt", distid, "-CAfile", issuing, "-partial_chain", tmp_path / "leaf.pem"
    )
    assert out.returncode == 0 and ": OK" in out.stdout, out.stdout + out.stderr
    out = run(OPENSSL, "verify", "-vfyopt", distid, "-CAfile", root, issuing)
    assert out.returncode == 0 and ": OK" in out.stdout, out.stdout + out.stderr
    # the same chain verified with the empty ID (OpenSSL 3.0's default) must fail: the ID matters
    out = run(OPENSSL, "verify", "-CAfile", issuing, "-partial_chain", tmp_path / "leaf.pem")
    assert out.returncode != 0


def test_gmssl_verifies_sm2_crl_and_ocsp_from_the_service(client, token, services):
    pytest.importorskip("gmssl.sm2", reason="gmssl (test extra) not installed")
    from asn1crypto import algos
    from asn1crypto import crl as asn1_crl

    point = services.ca.context("sm2-issuing").certificate.public_key["public_key"].native
    crl = asn1_crl.CertificateList.load(client.get("/crl/sm2-issuing.crl").content)
    verifier = gmssl_sm2(point)
    raw = algos.DSASignature.load(crl["signature"].native).to_p1363().hex()
    assert verifier.verify_with_sm3(raw, crl["tbs_cert_list"].dump())

    issued = _issue(client, auth(token("ca-operator")), "sm2-issuing", "sm2", "organization-signing")
    cert = x509.Certificate.load(pem.unarmor(issued["certificate_pem"].encode())[2])
    ca_cert = services.ca.context("sm2-issuing").certificate
    request = asn1_ocsp.OCSPRequest(
        {
            "tbs_request": {
                "request_list": [
                    {
                        "req_cert": {
                            "hash_algorithm": {"algorithm": "sha1"},
                            "issuer_name_hash": hashlib.sha1(ca_cert.subject.dump()).digest(),
                            "issuer_key_hash": hashlib.sha1(
                                ca_cert.public_key["public_key"].contents[1:]
                            ).digest(),
                            "serial_number": cert.serial_number,
                        }
                    }
                ]
            }
        }
    ).dump()
    response = asn1_ocsp.OCSPResponse.load(
        client.get("/ocsp/" + base64.urlsafe_b64encode(request).decode()).content
    )
    basic = response["response_bytes"]["response"].parsed
    responder = basic["certs"][0]
    verifier.public_key = responder.public_key["public_key"].native[1:].hex()
    raw = algos.DSASignature.load(basic["signature"].native).to_p1363().hex()
    assert verifier.verify_with_sm3(raw, basic["tbs_response_data"].dump())
