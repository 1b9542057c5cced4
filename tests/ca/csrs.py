"""Certification requests for tests, made with asn1crypto and the project's signers."""

from __future__ import annotations

from asn1crypto import csr as asn1_csr
from asn1crypto import pem, x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from keys.signer import CryptographySigner, SM2Signer
from keys.sm2 import SM2PrivateKey


def make_signer(kind: str):
    if kind == "sm2":
        return SM2Signer("test", SM2PrivateKey.generate())
    if kind.startswith("rsa"):
        bits = int(kind.split("-")[1]) if "-" in kind else 2048
        return CryptographySigner("test", rsa.generate_private_key(public_exponent=65537, key_size=bits))
    return CryptographySigner("test", ec.generate_private_key(ec.SECP256R1()))


def make_csr(kind: str = "sm2", subject: dict | None = None, signer=None, tamper: bool = False) -> bytes:
    """PEM CSR; ``tamper`` changes the subject after signing, so the signature no longer matches."""
    signer = signer or make_signer(kind)
    name = x509.Name.build(
        subject or {"country_name": "CN", "organization_name": "测试局", "common_name": "测试局业务章"},
        use_printable=False,
    )
    info = asn1_csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": name,
            "subject_pk_info": signer.public_key_info(),
            "attributes": [],
        }
    )
    info_der = info.dump()
    signature = signer.sign(info_der)
    if tamper:
        info = asn1_csr.CertificationRequestInfo(
            {
                "version": "v1",
                "subject": x509.Name.build({"common_name": "someone else"}),
                "subject_pk_info": signer.public_key_info(),
                "attributes": [],
            }
        )
    request = asn1_csr.CertificationRequest(
        {
            "certification_request_info": info,
            "signature_algorithm": signer.algorithm_identifier(),
            "signature": signature,
        }
    )
    return pem.armor("CERTIFICATE REQUEST", request.dump())


def ocsp_request(serial: int, issuer: x509.Certificate) -> bytes:
    """A nonce-less RFC 6960 request for one serial of ``issuer`` (SHA-1 CertID, as most clients send)."""
    from asn1crypto import ocsp

    cert_id = ocsp.CertId(
        {
            "hash_algorithm": {"algorithm": "sha1"},
            "issuer_name_hash": issuer.subject.sha1,
            "issuer_key_hash": issuer.public_key.sha1,
            "serial_number": serial,
        }
    )
    return ocsp.OCSPRequest({"tbs_request": {"request_list": [{"req_cert": cert_id}]}}).dump()
