"""CRL, OCSP and TSA output checked by tools nobody here wrote: the openssl CLI, pkilint and gmssl.

OpenSSL 3.0 verifies SM2 signatures in X.509, CRLs and OCSP with an *empty* distinguishing ID,
while GB/T 32918 and this project use the default ID "1234567812345678". So for SM2, gmssl
(pure Python, default ID) checks the real signatures, and openssl checks the encodings of
objects re-signed with the empty ID.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import tsp

from ca.crl import build_crl
from ca.ocsp import Responder, SingleStatus, issuer_key_material, match_cert_id, parse_request
from ca.tsa import build_reply, choose, parse_query, rejection
from tests.ca.pki import empty_id_signer, gmssl_verify, pki, write_pem

pytestmark = [pytest.mark.interop, pytest.mark.slow]

OPENSSL = shutil.which("openssl")
_BIN = Path(sys.executable).parent
LINT_CRL = shutil.which("lint_crl") or (str(_BIN / "lint_crl") if (_BIN / "lint_crl").exists() else None)
LINT_OCSP = shutil.which("lint_ocsp_response") or (
    str(_BIN / "lint_ocsp_response") if (_BIN / "lint_ocsp_response").exists() else None
)
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not on PATH")
needs_pkilint = pytest.mark.skipif(
    LINT_CRL is None or LINT_OCSP is None, reason="pkilint (lint_crl / lint_ocsp_response) not installed"
)
NOW = datetime.now(UTC).replace(microsecond=0)
IDP = "http://127.0.0.1:8400/crl/issuing-0.crl"


def run(*args) -> tuple[int, str]:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def gmssl():
    return pytest.importorskip("gmssl", reason="gmssl (PyPI) not installed")


@pytest.fixture
def files(tmp_path):
    def make(family: str) -> Path:
        p = pki(family)
        write_pem(tmp_path / "root.pem", p.root)
        write_pem(tmp_path / "ca.pem", p.ca)
        write_pem(tmp_path / "ca-chain.pem", p.ca, p.root)
        for name in ("leaf", "leaf2", "responder", "tsa"):
            write_pem(tmp_path / f"{name}.pem", getattr(p, name))
        return tmp_path

    return make


def _crl(family: str, signer=None, entries=None, idp=IDP) -> bytes:
    p = pki(family)
    if entries is None:
        entries = [
            (p.leaf2.cert.serial_number, NOW - timedelta(hours=2), "keyCompromise"),
            (0x7FFF_FFFF_FFFF, NOW - timedelta(days=9), None),
            (99, NOW, "superseded"),
        ]
    return build_crl(p.ca.cert, signer or p.ca.signer, entries, 12, NOW, NOW + timedelta(days=1), idp)


# --- CRL ----------------------------------------------------------------------------------------------


@needs_openssl
def test_openssl_verifies_rsa_crl(files):
    d = files("rsa")
    (d / "crl.der").write_bytes(_crl("rsa"))
    rc, out = run(OPENSSL, "crl", "-in", d / "crl.der", "-inform", "DER", "-CAfile", d / "ca.pem", "-noout")
    assert rc == 0 and "verify OK" in out, out
    rc, out = run(OPENSSL, "crl", "-in", d / "crl.der", "-inform", "DER", "-noout", "-text")
    assert "Key Compromise" in out and "Superseded" in out and "Issuing Distribution Point: critical" in out


@needs_openssl
def test_sm2_crl_gmssl_signature_and_openssl_encoding(files):
    gmssl()
    p, d = pki("sm2"), files("sm2")
    parsed = asn1_crl.CertificateList.load(_crl("sm2"))
    assert gmssl_verify(p.ca.cert, parsed["tbs_cert_list"].dump(), parsed["signature"].native)
    (d / "crl.der").write_bytes(_crl("sm2", signer=empty_id_signer(p.ca)))
    rc, out = run(OPENSSL, "crl", "-in", d / "crl.der", "-inform", "DER", "-CAfile", d / "ca.pem", "-noout")
    assert rc == 0 and "verify OK" in out, out


@needs_pkilint
@pytest.mark.parametrize("family", ["rsa", "sm2"])
@pytest.mark.parametrize("entries", [None, []], ids=["entries", "empty"])
def test_pkilint_crl_clean(tmp_path, family, entries):
    (tmp_path / "crl.der").write_bytes(_crl(family, entries=entries))
    rc, out = run(LINT_CRL, "lint", "-t", "CRL", "-p", "PKIX", tmp_path / "crl.der")
    assert rc == 0 and out.strip() == "", out


# --- OCSP ---------------------------------------------------------------------------------------------


def _answer(family: str, req, nonce, signer=None) -> bytes:
    p = pki(family)
    revoked = {p.leaf2.cert.serial_number: (NOW - timedelta(hours=3), "keyCompromise")}
    ours = issuer_key_material(p.ca.cert)
    singles = []
    for item in req:
        assert match_cert_id(item, *ours)
        at, reason = revoked.get(item.serial, (None, None))
        status = "revoked" if at else "good" if item.serial in (p.leaf.cert.serial_number,) else "unknown"
        singles.append(SingleStatus(item, status, at, reason, NOW, NOW + timedelta(hours=12)))
    responder = Responder(p.responder.cert, signer or p.responder.signer, [p.responder.cert, p.ca.cert])
    return responder.build(singles, NOW, nonce)


def _ocsp_request(d: Path, *extra) -> object:
    rc, out = run(
        OPENSSL,
        "ocsp",
        "-issuer",
        d / "ca.pem",
        "-cert",
        d / "leaf.pem",
        "-cert",
        d / "leaf2.pem",
        "-reqout",
        d / "req.der",
        *extra,
    )
    assert rc == 0, out
    return parse_request((d / "req.der").read_bytes())


@needs_openssl
def test_openssl_ocsp_rsa_statuses_and_nonce(files):
    d = files("rsa")
    req = _ocsp_request(d)
    assert req.nonce is not None and len(req) == 2
    # nonce echoed: openssl compares the request it sent with the response
    (d / "resp-nonce.der").write_bytes(_answer("rsa", req, req.nonce))
    rc, out = run(
        OPENSSL, "ocsp", "-reqin", d / "req.der", "-respin", d / "resp-nonce.der", "-CAfile", d / "root.pem"
    )
    assert rc == 0 and "Response verify OK" in out and "WARNING" not in out, out
    (d / "resp-bad-nonce.der").write_bytes(_answer("rsa", req, b"\x00" + req.nonce[1:]))
    rc, out = run(
        OPENSSL,
        "ocsp",
        "-reqin",
        d / "req.der",
        "-respin",
        d / "resp-bad-nonce.der",
        "-CAfile",
        d / "root.pem",
    )
    assert rc != 0 and "Nonce Verify error" in out, out
    # a pre-signed (cached) response has no nonce; openssl warns and still verifies it
    (d / "resp.der").write_bytes(_answer("rsa", req, None))
    rc, out = run(
        OPENSSL,
        "ocsp",
        "-issuer",
        d / "ca.pem",
        "-cert",
        d / "leaf.pem",
        "-cert",
        d / "leaf2.pem",
        "-respin",
        d / "resp.der",
        "-CAfile",
        d / "root.pem",
        "-resp_text",
    )
    assert rc == 0 and "Response verify OK" in out, out
    assert f"{d / 'leaf.pem'}: good" in out and f"{d / 'leaf2.pem'}: revoked" in out
    assert "Reason: keyCompromise" in out


@needs_openssl
@pytest.mark.parametrize("family", ["rsa", "sm2"])
@pytest.mark.parametrize("digest", ["sha1", "sha256", "sm3"])
def test_openssl_requests_by_serial_parse_and_match(files, family, digest):
    d = files(family)
    serial = pki(family).leaf.cert.serial_number
    rc, out = run(
        OPENSSL,
        "ocsp",
        "-issuer",
        d / "ca.pem",
        f"-{digest}",
        "-serial",
        hex(serial),
        "-reqout",
        d / "req.der",
    )
    assert rc == 0, out
    req = parse_request((d / "req.der").read_bytes())
    assert [(r.hash_algorithm, r.serial) for r in req] == [(digest, serial)]
    assert match_cert_id(req[0], *issuer_key_material(pki(family).ca.cert))
    assert 1 <= len(req.nonce) <= 128


@needs_openssl
def test_sm2_ocsp_gmssl_signature_and_openssl_encoding(files):
    gmssl()
    p, d = pki("sm2"), files("sm2")
    req = _ocsp_request(d, "-no_nonce")
    basic = asn1_ocsp.OCSPResponse.load(_answer("sm2", req, None))["response_bytes"]["response"].parsed
    assert gmssl_verify(p.responder.cert, basic["tbs_response_data"].dump(), basic["signature"].native)
    # encoding: re-signed with OpenSSL's empty ID; -VAfile trusts the responder directly
    (d / "resp.der").write_bytes(_answer("sm2", req, None, signer=empty_id_signer(p.responder)))
    rc, out = run(
        OPENSSL,
        "ocsp",
        "-issuer",
        d / "ca.pem",
        "-cert",
        d / "leaf.pem",
        "-cert",
        d / "leaf2.pem",
        "-respin",
        d / "resp.der",
        "-VAfile",
        d / "responder.pem",
        "-no_nonce",
        "-resp_text",
    )
    assert rc == 0 and "Response verify OK" in out, out
    assert f"{d / 'leaf.pem'}: good" in out and f"{d / 'leaf2.pem'}: revoked" in out


@needs_openssl
@needs_pkilint
@pytest.mark.parametrize("family", ["rsa", "sm2"])
@pytest.mark.parametrize("with_nonce", [True, False])
def test_pkilint_ocsp_response_clean(files, family, with_nonce):
    d = files(family)
    req = _ocsp_request(d)
    (d / "resp.der").write_bytes(_answer(family, req, req.nonce if with_nonce else None))
    rc, out = run(LINT_OCSP, "lint", d / "resp.der")
    assert rc == 0 and out.strip() == "", out


# --- TSA ----------------------------------------------------------------------------------------------


def _stamp(d: Path, family: str, flag: str) -> tuple[Path, object]:
    (d / "f.txt").write_bytes(b"approval 2026-0001\n" * 100)
    rc, out = run(OPENSSL, "ts", "-query", "-data", d / "f.txt", flag, "-cert", "-out", d / "q.tsq")
    assert rc == 0, out
    q = parse_query((d / "q.tsq").read_bytes())
    assert choose(q) == family
    p = pki(family)
    reply = build_reply(
        q, p.tsa.cert, p.tsa.signer, 0x5EED_0001, NOW, "1.3.6.1.4.1.99999.2.1", 500, q.cert_req, []
    )
    (d / "reply.tsr").write_bytes(reply)
    return d / "reply.tsr", reply


@needs_openssl
def test_openssl_ts_verifies_rsa_reply(files):
    d = files("rsa")
    reply_path, _ = _stamp(d, "rsa", "-sha256")
    rc, out = run(
        OPENSSL,
        "ts",
        "-verify",
        "-data",
        d / "f.txt",
        "-in",
        reply_path,
        "-CAfile",
        d / "ca-chain.pem",
        "-untrusted",
        d / "tsa.pem",
    )
    assert rc == 0 and "Verification: OK" in out, out
    rc, out = run(
        OPENSSL,
        "ts",
        "-verify",
        "-queryfile",
        d / "q.tsq",
        "-in",
        reply_path,
        "-CAfile",
        d / "ca-chain.pem",
        "-untrusted",
        d / "tsa.pem",
    )
    assert rc == 0 and "Verification: OK" in out, out


@needs_openssl
def test_sm2_reply_parsed_by_openssl_and_verified_by_gmssl(files):
    gmssl()
    d = files("sm2")
    reply_path, reply = _stamp(d, "sm2", "-sm3")
    rc, out = run(OPENSSL, "ts", "-reply", "-in", reply_path, "-text")
    assert rc == 0 and "Status: Granted." in out and "Hash Algorithm: sm3" in out, out
    si = tsp.TimeStampResp.load(reply)["time_stamp_token"]["content"]["signer_infos"][0]
    signed = b"\x31" + si["signed_attrs"].dump()[1:]
    assert gmssl_verify(pki("sm2").tsa.cert, signed, si["signature"].native)


@needs_openssl
def test_openssl_reads_rejection(tmp_path):
    (tmp_path / "rej.tsr").write_bytes(rejection("badAlg", "SHA-1 imprints are not accepted"))
    rc, out = run(OPENSSL, "ts", "-reply", "-in", tmp_path / "rej.tsr", "-text")
    assert rc == 0 and "Status: Rejected." in out and "unsupported algorithm" in out, out
