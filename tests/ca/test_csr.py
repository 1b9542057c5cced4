"""parse_csr: PEM/DER, proof of possession for RSA, ECDSA and SM2 (default and empty ID), key policy,
and DomainError — never anything else — for every broken input."""

from __future__ import annotations

import contextlib

import pytest
from asn1crypto import algos, pem, x509
from asn1crypto import csr as asn1_csr
from asn1crypto import keys as asn1_keys
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from ca.csr import parse_csr, sm2_point_problem
from core.errors import DomainError, ErrorKind
from core.oids import DEFAULT_SM2_ID
from keys.sm2 import SM2PrivateKey
from tests.ca.csrs import make_csr

SUBJECT = cx509.Name(
    [
        cx509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        cx509.NameAttribute(NameOID.ORGANIZATION_NAME, "某市人民政府"),
        cx509.NameAttribute(NameOID.COMMON_NAME, "某市人民政府"),
    ]
)


def cryptography_csr(key, digest=hashes.SHA256()) -> bytes:
    return (
        cx509.CertificateSigningRequestBuilder()
        .subject_name(SUBJECT)
        .sign(key, digest)
        .public_bytes(serialization.Encoding.DER)
    )


def sm2_csr(
    key: SM2PrivateKey,
    user_id: bytes = DEFAULT_SM2_ID,
    point: bytes | None = None,
    algorithm: str = "sm3_sm2",
) -> bytes:
    spki = (
        key.public_key_info()
        if point is None
        else asn1_keys.PublicKeyInfo(
            {
                "algorithm": key.public_key_info()["algorithm"],
                "public_key": point,
            }
        )
    )
    info = asn1_csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": x509.Name.build(
                {"country_name": "CN", "organization_name": "某市人民政府", "common_name": "某市人民政府"}
            ),
            "subject_pk_info": spki,
            "attributes": [],
        }
    )
    return asn1_csr.CertificationRequest(
        {
            "certification_request_info": info,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": algorithm}),
            "signature": key.sign(info.dump(), user_id),
        }
    ).dump()


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def sm2_key():
    return SM2PrivateKey.generate()


def rejected(data: bytes, *words: str) -> DomainError:
    with pytest.raises(DomainError) as info:
        parse_csr(data)
    assert info.value.kind is ErrorKind.INVALID_INPUT
    for word in words:
        assert word in info.value.detail, info.value.detail
    return info.value


def test_rsa_csr_pem_and_der(rsa_key):
    der = cryptography_csr(rsa_key)
    pems = (pem.armor("CERTIFICATE REQUEST", der), b"\n" + pem.armor("NEW CERTIFICATE REQUEST", der))
    for data in (der, *pems):
        parsed = parse_csr(data)
        assert parsed.key_type == "rsa" and parsed.key_bits == 2048
        assert parsed.der == der
        assert parsed.subject.native["common_name"] == "某市人民政府"
        assert parsed.sm2_user_id is None


def test_ecdsa_p256_csr():
    parsed = parse_csr(cryptography_csr(ec.generate_private_key(ec.SECP256R1())))
    assert parsed.key_type == "ecdsa-p256" and parsed.key_bits == 256


@pytest.mark.parametrize("user_id", [DEFAULT_SM2_ID, b""])
def test_sm2_csr_with_default_or_empty_id(sm2_key, user_id):
    parsed = parse_csr(sm2_csr(sm2_key, user_id))
    assert parsed.key_type == "sm2"
    assert parsed.sm2_user_id == user_id
    assert parsed.public_key_info["public_key"].native == sm2_key.public_point


def test_sm2_csr_signed_with_another_id_is_rejected(sm2_key):
    rejected(sm2_csr(sm2_key, b"ALICE123@YAHOO.COM"), "does not verify", "proof of possession")


BROKEN_PEM = b"-----BEGIN CERTIFICATE REQUEST-----\n!!\n"


@pytest.mark.parametrize("data", [b"", b"garbage", b"\x30\x82\xff\xff", BROKEN_PEM])
def test_garbage_is_rejected(data):
    rejected(data)


def test_truncated_and_padded_der_is_rejected(rsa_key, sm2_key):
    for der in (cryptography_csr(rsa_key), sm2_csr(sm2_key)):
        rejected(der[:-10], "truncated")
        rejected(der[: len(der) // 2], "truncated")
        rejected(der + b"\x00\x00")


def test_wrong_pem_label_is_rejected(rsa_key):
    rejected(pem.armor("CERTIFICATE", cryptography_csr(rsa_key)), "CERTIFICATE REQUEST")


def test_tampered_signature_is_rejected(rsa_key, sm2_key):
    for der in (
        cryptography_csr(rsa_key),
        cryptography_csr(ec.generate_private_key(ec.SECP256R1())),
        sm2_csr(sm2_key),
    ):
        tampered = bytearray(der)
        tampered[-3] ^= 0x01
        rejected(bytes(tampered), "does not verify")


def test_tampered_subject_is_rejected(rsa_key, sm2_key):
    for der in (cryptography_csr(rsa_key), sm2_csr(sm2_key)):
        tampered = der.replace("某市".encode(), "某县".encode(), 1)
        assert tampered != der
        rejected(tampered, "does not verify")


@pytest.mark.parametrize("character", ["\x00", "\n", "\x1b", "\x7f", "\x9b", "\u202e", "\u2067"])
def test_a_control_character_in_the_subject_is_rejected(character):
    subject = {"country_name": "CN", "organization_name": "测试局", "common_name": f"测试{character}局"}
    rejected(make_csr("sm2", subject), "control or bidirectional")


def test_ordinary_subject_text_is_accepted():
    subject = {
        "country_name": "CN",
        "organization_name": "某市 (测试) 局·A&B",
        "common_name": "测试局 — 业务章",
    }
    assert parse_csr(make_csr("sm2", subject)).key_type == "sm2"


@pytest.mark.slow
def test_weak_rsa_keys_are_rejected():
    rejected(cryptography_csr(rsa.generate_private_key(65537, 1024)), "1024 bits")
    rejected(cryptography_csr(rsa.generate_private_key(65537, 4104)), "4104 bits")
    rejected(cryptography_csr(rsa.generate_private_key(3, 2048)), "exponent 3")


def test_weak_digest_is_rejected(rsa_key):
    request = asn1_csr.CertificationRequest.load(cryptography_csr(rsa_key))
    info = request["certification_request_info"]
    sha1_signed = asn1_csr.CertificationRequest(
        {
            "certification_request_info": info,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha1_rsa"}),
            "signature": rsa_key.sign(info.dump(), padding.PKCS1v15(), hashes.SHA1()),
        }
    ).dump()
    rejected(sha1_signed, "weak digest sha1")


def test_other_curves_are_rejected():
    rejected(cryptography_csr(ec.generate_private_key(ec.SECP384R1())), "not supported")


def test_sm2_point_off_the_curve_is_rejected(sm2_key):
    point = bytearray(sm2_key.public_point)
    point[-1] ^= 0x01
    rejected(sm2_csr(sm2_key, point=bytes(point)), "not a point on the sm2p256v1 curve")
    rejected(sm2_csr(sm2_key, point=b"\x02" + sm2_key.public_point[1:33]), "uncompressed")
    assert sm2_point_problem(sm2_key.public_point) is None
    assert sm2_point_problem(b"\x04" + b"\xff" * 64) is not None


def test_sm2_key_must_sign_with_sm3withsm2(sm2_key):
    rejected(sm2_csr(sm2_key, algorithm="sha256_ecdsa"), "SM3withSM2")


def test_too_large_is_rejected():
    rejected(b"\x30" * 70_000, "larger than")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
@pytest.mark.slow
def test_random_bytes_only_ever_raise_domain_errors(data):
    with pytest.raises(DomainError):
        parse_csr(data)


@settings(max_examples=300, deadline=None)
@given(st.data())
@pytest.mark.slow
def test_mutated_csrs_parse_or_raise_domain_errors(data):
    der = bytearray(_SM2_DER if data.draw(st.booleans()) else _RSA_DER)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(der) - 1))
        der[position] = data.draw(st.integers(0, 255))
    with contextlib.suppress(DomainError):
        parse_csr(bytes(der))


_SM2_DER = sm2_csr(SM2PrivateKey.generate())
_RSA_DER = cryptography_csr(rsa.generate_private_key(65537, 2048))


# --------------------------------------------------------------------------- SM2 curve OID as key algorithm

SM2_CURVE_OID = "1.2.156.10197.1.301"


def curve_oid_csr(key: SM2PrivateKey, *, repeat_in_parameters: bool) -> bytes:
    """An SM2 request as Tongsuo writes it: the key algorithm is the SM2 curve OID itself."""
    from asn1crypto import core

    oid = core.ObjectIdentifier(SM2_CURVE_OID).dump()
    algorithm = oid + (oid if repeat_in_parameters else b"")
    point = core.OctetBitString(key.public_point).dump()
    body = core.Sequence.load(b"\x30" + bytes([len(algorithm)]) + algorithm).dump() + point
    spki = asn1_keys.PublicKeyInfo.load(b"\x30" + bytes([len(body)]) + body)
    info = asn1_csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": x509.Name.build(
                {"country_name": "CN", "organization_name": "某市人民政府", "common_name": "某市人民政府"}
            ),
            "subject_pk_info": spki,
            "attributes": [],
        }
    )
    assert SM2_CURVE_OID.encode() not in info.dump()  # (the OID is DER-encoded, not text)
    return asn1_csr.CertificationRequest(
        {
            "certification_request_info": info,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sm3_sm2"}),
            "signature": key.sign(info.dump(), DEFAULT_SM2_ID),
        }
    ).dump()


@pytest.mark.parametrize("repeat_in_parameters", [False, True], ids=["no parameters", "curve OID again"])
def test_sm2_csr_with_the_curve_oid_as_key_algorithm_is_accepted(sm2_key, repeat_in_parameters):
    parsed = parse_csr(curve_oid_csr(sm2_key, repeat_in_parameters=repeat_in_parameters))
    assert parsed.key_type == "sm2" and parsed.sm2_user_id == DEFAULT_SM2_ID
    # the request's key in the GM/T 0015 form every issued certificate carries
    assert parsed.public_key_info.dump() == sm2_key.public_key_info().dump()
    algorithm = parsed.public_key_info["algorithm"]
    assert algorithm["algorithm"].native == "ec" and algorithm["parameters"].chosen.dotted == SM2_CURVE_OID


def test_curve_oid_csr_still_needs_its_proof_of_possession(sm2_key):
    data = bytearray(curve_oid_csr(sm2_key, repeat_in_parameters=False))
    data[-3] ^= 0x01
    rejected(bytes(data), "does not verify")


def test_curve_oid_csr_is_issued_with_id_ec_public_key(client, token, sm2_key):
    from tests.conftest import auth

    csr_pem = pem.armor("CERTIFICATE REQUEST", curve_oid_csr(sm2_key, repeat_in_parameters=True)).decode()
    body = {"csr_pem": csr_pem, "profile": "organization-signing", "credit_code": "91440300708461136T"}
    r = client.post("/api/v1/cas/sm2-issuing/certificates", headers=auth(token("ca-operator")), json=body)
    assert r.status_code == 201, r.text
    cert = x509.Certificate.load(pem.unarmor(r.json()["certificate_pem"].encode())[2])
    spki = cert["tbs_certificate"]["subject_public_key_info"]
    assert spki["algorithm"]["algorithm"].dotted == "1.2.840.10045.2.1"
    assert spki["algorithm"]["parameters"].chosen.dotted == SM2_CURVE_OID
    assert spki["public_key"].native == sm2_key.public_point
