"""Certificates and CSRs checked with tools nobody here wrote: the OpenSSL 3 CLI, gmssl (pure-Python
SM2) and pkilint. SM2 and RSA hierarchies come from tests/ca/test_builder.py's helpers.

OpenSSL 3.0 applies ``-vfyopt distid:...`` to the target certificate only, so SM2 chains are
verified link by link (issuer as the only trust anchor, ``-partial_chain`` below the root). For the
same reason ``-check_ss_sig`` fails on an SM2 root (it checks the trust-store copy, with the empty
ID), so the root's self-signature is checked with ``openssl pkeyutl -verify -rawin -digest sm3``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from asn1crypto import algos, pem, x509

from ca.csr import parse_csr
from core.errors import DomainError
from core.oids import DEFAULT_SM2_ID
from tests.ca.pki import gmssl_sm2
from tests.ca.test_builder import END_ENTITY, PROFILES, hierarchy, issue

pytestmark = [pytest.mark.interop, pytest.mark.slow]

OPENSSL = shutil.which("openssl")
PKILINT = shutil.which("lint_pkix_cert") or str(Path(sys.executable).with_name("lint_pkix_cert"))
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl CLI is not installed")
needs_pkilint = pytest.mark.skipif(
    not Path(PKILINT).exists(), reason="pkilint (lint_pkix_cert) is not installed; pip install pkilint"
)
DISTID = f"distid:{DEFAULT_SM2_ID.decode()}"

# pkilint findings the SM2 algorithm itself causes, and nothing else. SM2 keys are encoded as
# id-ecPublicKey (GM/T 0015), so pkilint applies RFC 5480's ECDSA/ECDH rule that forbids
# keyEncipherment and dataEncipherment; SM2 does public-key encryption (GB/T 32918.4) and the
# GM/T 0015 dual-certificate encryption certificate carries exactly these bits.
SM2_CAUSED = {"organization-encryption/sm2": {"pkix.key_usage_value_prohibited_for_ec"}}


def run(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, input=input, capture_output=True, timeout=120, check=False)


def write(tmp_path: Path, label: str, cert: x509.Certificate) -> str:
    path = tmp_path / f"{label.replace('/', '_')}.pem"
    path.write_bytes(pem.armor("CERTIFICATE", cert.dump()))
    return str(path)


def openssl_ok(*args: str) -> str:
    result = run(OPENSSL, "verify", *args)
    output = (result.stdout + result.stderr).decode()
    assert result.returncode == 0 and ": OK" in output, output
    return output


def pkeyutl_verifies(tmp_path: Path, cert: x509.Certificate, issuer: x509.Certificate) -> None:
    """OpenSSL checks an SM2 certificate signature (SM3, default ID) outside of chain verification."""
    key, tbs, signature = tmp_path / "issuer-key.pem", tmp_path / "tbs.der", tmp_path / "signature.der"
    key.write_bytes(pem.armor("PUBLIC KEY", issuer.public_key.dump()))
    tbs.write_bytes(cert["tbs_certificate"].dump())
    signature.write_bytes(cert["signature_value"].native)
    common = [
        "pkeyutl",
        "-verify",
        "-digest",
        "sm3",
        "-pubin",
        "-inkey",
        str(key),
        "-rawin",
        "-in",
        str(tbs),
        "-sigfile",
        str(signature),
    ]
    result = run(OPENSSL, *common, "-pkeyopt", DISTID)
    assert result.returncode == 0, (result.stdout + result.stderr).decode()
    assert run(OPENSSL, *common).returncode != 0  # with OpenSSL's default, the empty ID, it must fail


# --- chains ------------------------------------------------------------------------------------


@needs_openssl
def test_rsa_chains_verify_with_openssl(tmp_path):
    h = hierarchy("rsa")
    root, issuing = write(tmp_path, "root", h.root.cert), write(tmp_path, "issuing", h.issuing.cert)
    openssl_ok("-check_ss_sig", "-CAfile", root, root)
    for label, cert in h.leaves.items():
        openssl_ok("-CAfile", root, "-untrusted", issuing, write(tmp_path, label, cert))


@needs_openssl
def test_sm2_chains_verify_with_openssl_link_by_link(tmp_path):
    h = hierarchy("sm2")
    root, issuing = write(tmp_path, "root", h.root.cert), write(tmp_path, "issuing", h.issuing.cert)
    pkeyutl_verifies(tmp_path, h.root.cert, h.root.cert)
    openssl_ok("-vfyopt", DISTID, "-CAfile", root, issuing)
    for label, cert in h.leaves.items():
        openssl_ok("-vfyopt", DISTID, "-partial_chain", "-CAfile", issuing, write(tmp_path, label, cert))


@needs_openssl
def test_sm2_signatures_use_the_default_id_not_the_empty_one(tmp_path):
    h = hierarchy("sm2")
    issuing = write(tmp_path, "issuing", h.issuing.cert)
    leaf = write(tmp_path, "leaf", h.leaves["organization-signing/sm2"])
    result = run(OPENSSL, "verify", "-partial_chain", "-CAfile", issuing, leaf)  # OpenSSL's default: empty ID
    assert result.returncode != 0 and b"signature failure" in result.stdout + result.stderr


def test_gmssl_verifies_every_sm2_certificate_signature():
    pytest.importorskip("gmssl.sm2", reason="gmssl (PyPI) is not installed")
    h = hierarchy("sm2")
    pairs = [(h.root.cert, h.root.cert), (h.issuing.cert, h.root.cert)]
    pairs += [(cert, h.issuing.cert) for cert in h.leaves.values()]
    for cert, issuer in pairs:
        point = issuer.public_key["public_key"].native
        crypt = gmssl_sm2(point)
        signature = cert["signature_value"].native
        r_s = algos.DSASignature.load(signature).to_p1363().hex()
        assert crypt.verify_with_sm3(r_s, cert["tbs_certificate"].dump()), cert.subject.human_friendly
        tampered = bytearray(cert["tbs_certificate"].dump())
        tampered[-1] ^= 0x01
        assert not crypt.verify_with_sm3(r_s, bytes(tampered))


# --- pkilint -----------------------------------------------------------------------------------


def _all_certificates() -> list[tuple[str, str]]:
    cases = [(family, label) for family in ("sm2", "rsa") for label in ("root", "issuing")]
    for family, kinds in (("sm2", ["sm2"]), ("rsa", ["rsa", "ecdsa-p256"])):
        for profile_name in END_ENTITY:
            accepted = PROFILES[profile_name].algorithms
            cases += [(family, f"{profile_name}/{kind}") for kind in kinds if kind in accepted]
    return cases


@needs_pkilint
@pytest.mark.parametrize("family, label", _all_certificates())
def test_pkilint_reports_nothing(tmp_path, family, label):
    h = hierarchy(family)
    cert = {"root": h.root.cert, "issuing": h.issuing.cert}.get(label) or h.leaves[label]
    result = run(PKILINT, "lint", "-s", "WARNING", "-f", "JSON", write(tmp_path, label, cert))
    assert result.returncode in (0, 1), result.stderr.decode()
    report = json.loads(result.stdout)
    found = {d["code"] for r in report["results"] for d in r["finding_descriptions"]}
    assert found == SM2_CAUSED.get(label, set()), json.dumps(report, ensure_ascii=False, indent=1)


# --- CSRs made by the OpenSSL CLI --------------------------------------------------------------


def _openssl_csr(tmp_path: Path, algorithm: str, *options: str, sigopt: str | None = None) -> bytes:
    key = tmp_path / f"{algorithm}-{len(options)}.key"
    created = run(OPENSSL, "genpkey", "-algorithm", algorithm, *options, "-out", str(key))
    assert created.returncode == 0, created.stderr.decode()
    args = [OPENSSL, "req", "-new", "-key", str(key), "-subj", "/C=CN/O=Test Bureau/CN=Test Bureau"]
    if algorithm == "SM2":
        args.append("-sm3")
    if sigopt:
        args += ["-sigopt", sigopt]
    made = run(*args)
    assert made.returncode == 0, made.stderr.decode()
    return made.stdout


@needs_openssl
def test_openssl_rsa_csr_is_accepted_and_certified(tmp_path):
    csr = parse_csr(_openssl_csr(tmp_path, "RSA", "-pkeyopt", "rsa_keygen_bits:2048"))
    assert csr.key_type == "rsa" and csr.key_bits == 2048
    h = hierarchy("rsa")
    cert = issue("organization-signing", h.issuing, csr.subject, csr.public_key_info)
    openssl_ok(
        "-CAfile",
        write(tmp_path, "root", h.root.cert),
        "-untrusted",
        write(tmp_path, "issuing", h.issuing.cert),
        write(tmp_path, "leaf", cert),
    )


@needs_openssl
@pytest.mark.parametrize("sigopt, user_id", [(None, b""), (DISTID, DEFAULT_SM2_ID)])
def test_openssl_sm2_csr_is_accepted_and_certified(tmp_path, sigopt, user_id):
    csr = parse_csr(_openssl_csr(tmp_path, "SM2", sigopt=sigopt))
    assert csr.key_type == "sm2" and csr.sm2_user_id == user_id
    h = hierarchy("sm2")
    cert = issue("seal-signer", h.issuing, csr.subject, csr.public_key_info)
    openssl_ok(
        "-vfyopt",
        DISTID,
        "-partial_chain",
        "-CAfile",
        write(tmp_path, "issuing", h.issuing.cert),
        write(tmp_path, "leaf", cert),
    )


@needs_openssl
def test_openssl_bad_csrs_are_rejected(tmp_path):
    weak = _openssl_csr(tmp_path, "RSA", "-pkeyopt", "rsa_keygen_bits:1024")
    with pytest.raises(DomainError, match="1024 bits"):
        parse_csr(weak)
    for algorithm, options in (("SM2", ()), ("RSA", ("-pkeyopt", "rsa_keygen_bits:2048"))):
        der = pem.unarmor(_openssl_csr(tmp_path, algorithm, *options))[2]
        tampered = bytearray(der)
        tampered[-2] ^= 0x01
        for bad in (bytes(tampered), der[:-20], b"\x00" + der[1:], b"not a CSR at all"):
            with pytest.raises(DomainError):
                parse_csr(bad)
