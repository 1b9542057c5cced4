"""Seals and stamps made by other implementations (ofdrw, a vendor), plus seals built here with the specs.

The builders at the top are shared with test_ofd_interop.py: a self-signed SM2 or RSA certificate, a
v4/v5 seal, a stamp and an RFC 3161 token, all assembled with the specs in core.ses_asn1.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms, core, keys, tsp, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from core import ses_asn1 as a
from core.errors import DomainError
from core.oids import SM3_WITH_SM2
from keys import sm2
from keys.sm2 import SM2PrivateKey
from tests.verify import ses_versions as v
from verify.report import Check, Report, SealInfo, derive_indication
from verify.ses import parse_seal, parse_signature, verify_seal, verify_stamp

INTEROP = Path(__file__).resolve().parents[2].parent / "shared" / "interop"
SES = INTEROP / "ses"
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def interop(name: str) -> bytes:
    path = SES / name
    if not path.exists():
        pytest.skip(f"interop sample {path} is missing (the shared interop folder is not mounted)")
    return path.read_bytes()


def sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


# --- builders ---------------------------------------------------------------------------------------


class RsaKey:
    """An RSA key with the same sign(message) shape as SM2PrivateKey."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def public_key_info(self) -> keys.PublicKeyInfo:
        return keys.PublicKeyInfo.load(
            self.key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def make_cert(
    key,
    cn: str,
    *,
    not_before: datetime = T0 - timedelta(days=365),
    not_after: datetime = T0 + timedelta(days=365),
    serial: int = 0x5EA1,
) -> bytes:
    """A self-signed certificate for an SM2PrivateKey or RsaKey."""
    alg = "sha256_rsa" if isinstance(key, RsaKey) else "sm3_sm2"
    name = x509.Name.build({"country_name": "CN", "common_name": cn})
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": {"algorithm": alg},
            "issuer": name,
            "subject": name,
            "subject_public_key_info": key.public_key_info(),
            "validity": {
                "not_before": x509.Time({"utc_time": not_before}),
                "not_after": x509.Time({"utc_time": not_after}),
            },
        }
    )
    return x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": {"algorithm": alg},
            "signature_value": key.sign(tbs.dump()),
        }
    ).dump()


def build_seal(
    maker_key,
    maker_cert: bytes,
    signer_certs: list[bytes],
    *,
    version: int = 4,
    valid: tuple[datetime, datetime] = (T0 - timedelta(days=30), T0 + timedelta(days=365)),
    digests: bool = False,
    time_stamp: bytes | None = None,
):
    cert_list = [{"type": "SM3", "value": sm3(c)} for c in signer_certs] if digests else signer_certs
    info = a.SES_SealInfo_V4(
        {
            "header": {"id": "ES", "version": version, "vid": "LongTrustTest"},
            "es_id": "11010800000001",
            "property": {
                "type": 1,
                "name": "测试专用章",
                "cert_list_type": 2 if digests else 1,
                "cert_list": cert_list,
                "create_date": valid[0],
                "valid_start": valid[0],
                "valid_end": valid[1],
            },
            "picture": {"type": "PNG", "data": b"\x89PNG\r\n\x1a\n-test-", "width": 40, "height": 40},
            "ext_datas": [{"extn_id": "1.2.156.10197.6.7.2.2.1", "critical": False, "extn_value": b"2.1"}],
        }
    )
    fields = {
        "eseal_info": info,
        "cert": maker_cert,
        "sign_alg_id": SM3_WITH_SM2,
        "signed_value": maker_key.sign(info.dump()),
    }
    if time_stamp is not None:
        fields["time_stamp"] = time_stamp
    return (a.SESeal_V5 if version == 5 else a.SESeal_V4)(fields)


def build_stamp(
    signer_key,
    signer_cert: bytes,
    seal,
    data: bytes,
    *,
    version: int = 4,
    when: datetime = T0,
    alg: str = SM3_WITH_SM2,
    data_hash: bytes | None = None,
    time_stamp=None,
) -> bytes:
    """An SES_Signature; `time_stamp(signature) -> token` adds a [0] time stamp over the signature."""
    tbs_cls, sig_cls = (
        (v.TBS_Sign_V5, v.SES_Signature_V5) if version == 5 else (a.TBS_Sign_V4, a.SES_Signature_V4)
    )
    tbs = tbs_cls(
        {
            "version": version,
            "eseal": seal,
            "time_info": when,
            "data_hash": sm3(data) if data_hash is None else data_hash,
            "property_info": "test.json",
        }
    )
    signature = signer_key.sign(tbs.dump())
    fields = {"to_sign": tbs, "cert": signer_cert, "signature_alg_id": alg, "signature": signature}
    if time_stamp is not None:
        fields["time_stamp"] = time_stamp(signature)
    return sig_cls(fields).dump()


def make_token(tsa_key: SM2PrivateKey, tsa_cert: bytes, covered: bytes, gen_time: datetime) -> bytes:
    """An RFC 3161 token with SM3 imprint over `covered`, signed with SM2 over signed attributes."""
    imprint = {"hash_algorithm": {"algorithm": "sm3"}, "hashed_message": sm3(covered)}
    tst = tsp.TSTInfo(
        {
            "version": "v1",
            "policy": "1.2.156.1",
            "serial_number": 7,
            "gen_time": gen_time,
            "message_imprint": imprint,
        }
    )
    return signed_data_info(tsa_key, tsa_cert, tst.dump(), "tst_info", attrs=True).dump()


def signed_data(
    key: SM2PrivateKey,
    cert_der: bytes,
    content: bytes,
    content_type: str,
    *,
    attrs: bool,
    attach: bool = True,
) -> cms.SignedData:
    cert = x509.Certificate.load(cert_der)
    sid = {"issuer_and_serial_number": {"issuer": cert.issuer, "serial_number": cert.serial_number}}
    signer = {
        "version": "v1",
        "digest_algorithm": {"algorithm": "sm3"},
        "sid": sid,
        "signature_algorithm": {"algorithm": "sm2_1"},
    }
    if attrs:
        signed_attrs = cms.CMSAttributes(
            [
                {"type": "content_type", "values": [content_type]},
                {"type": "message_digest", "values": [sm3(content)]},
            ]
        )
        signer.update(signed_attrs=signed_attrs, signature=key.sign(signed_attrs.dump()))
    else:
        signer["signature"] = key.sign(content)
    # CMS (v3) for time-stamp tokens; GB/T 35275 keeps the PKCS#7 (v1) ContentInfo shape.
    version = "v3" if content_type == "tst_info" else "v1"
    encap = {"content_type": content_type}
    if attach:
        encap["content"] = (
            tsp.TSTInfo.load(content) if version == "v3" else core.OctetString(content, explicit=0)
        )
    return cms.SignedData(
        {
            "version": version,
            "digest_algorithms": [{"algorithm": "sm3"}],
            "encap_content_info": encap,
            "certificates": [cert],
            "signer_infos": [signer],
        }
    )


def signed_data_info(key, cert_der, content, content_type, *, attrs) -> cms.ContentInfo:
    return cms.ContentInfo(
        {
            "content_type": "signed_data",
            "content": signed_data(key, cert_der, content, content_type, attrs=attrs),
        }
    )


def trusting_checker(calls: list | None = None):
    """A cert_checker standing in for a configured trust store that accepts every certificate."""

    def check(cert_der: bytes, at: datetime, purpose: str) -> list[Check]:
        if calls is not None:
            calls.append((cert_der, at, purpose))
        return [Check("certificate chain", "passed", "trusted for the test")]

    return check


@pytest.fixture(scope="module")
def pki():
    maker, signer = SM2PrivateKey.generate(), SM2PrivateKey.generate()
    return {
        "maker": maker,
        "maker_cert": make_cert(maker, "Seal maker", serial=1),
        "signer": signer,
        "signer_cert": make_cert(signer, "Seal holder", serial=2),
    }


# --- interop samples ------------------------------------------------------------------------------


def test_v1_seal_maker_signature_covers_sealinfo_cert_and_algorithm():
    der = interop("UserV1.esl")
    seal = parse_seal(der)
    assert (seal.layout, seal.header_version, seal.picture_type, seal.width_mm) == (1, 1, "PNG", 40)
    report = verify_seal(der, at=datetime(2021, 1, 1, tzinfo=UTC))
    assert report.check("seal_signature").result == "passed"
    # The signed range is the v1 SEQUENCE{sealInfo, cert, algorithm}: SES_SealInfo alone does not verify.
    info_raw = a.children(a.read_single(der))[0].raw
    point = x509.Certificate.load(seal.maker_cert).public_key["public_key"].native
    assert not sm2.verify(point, info_raw, seal.signed_value)
    assert seal.maker_signed_bytes.startswith(b"\x30") and info_raw in seal.maker_signed_bytes


@pytest.mark.parametrize("name, layout", [("UserV4.esl", 4), ("UserV5.esl", 5), ("UserV5_ts.esl", 5)])
def test_v4_v5_seal_maker_signature_verifies_over_received_sealinfo(name, layout):
    der = interop(name)
    seal = parse_seal(der)
    assert seal.layout == layout == seal.header_version
    assert seal.maker_signed_bytes == a.children(a.read_single(der))[0].raw
    report = verify_seal(der, at=seal.valid_start + timedelta(days=1))
    assert report.check("format").result == "passed"
    assert report.check("seal_signature").result == "passed"
    assert report.check("seal_validity").result == "passed"
    # Unknown trust anchors: never passed.
    assert report.indication == "INDETERMINATE"
    assert report.sub_indication == "NO_CERTIFICATE_CHAIN_FOUND"
    assert report.seal.es_id == seal.es_id and report.seal.version == layout


def test_v5_dummy_time_stamp_is_reported_as_not_a_valid_token():
    der = interop("UserV5_ts.esl")
    seal = parse_seal(der)
    assert seal.time_stamp == b"\x01\x02\x03" and seal.time_stamp_tagging == "EXPLICIT"
    report = verify_seal(der, at=seal.valid_start + timedelta(days=1))
    ts = report.check("seal_timestamp")
    assert ts.result in ("failed", "indeterminate")
    assert "not a valid RFC 3161 token" in ts.detail
    assert report.check("seal_signature").result == "passed"


def test_expired_seal_fails_at_a_later_verification_time():
    der = interop("UserV4.esl")
    report = verify_seal(der, at=datetime(2026, 1, 1, tzinfo=UTC))
    assert report.indication == "TOTAL_FAILED" and report.sub_indication == "EXPIRED"
    assert report.check("seal_signature").result == "passed"


@pytest.mark.parametrize("name, version", [("SignedValueV4.dat", 4), ("SignedValueV5.dat", 5)])
def test_ofdrw_stamps_verify_and_a_real_document_fails_the_hash(name, version):
    der = interop(name)
    stamp = parse_signature(der)
    assert stamp.layout == version == stamp.version == stamp.seal.header_version
    assert stamp.data_hash == bytes(len(stamp.data_hash))  # the samples carry an all-zero dataHash
    report = verify_stamp(der)
    for check in (
        "format",
        "stamp_signature",
        "seal_signature",
        "signer_in_cert_list",
        "version_match",
        "algorithm_consistency",
    ):
        assert report.check(check).result == "passed", report.to_text()
    assert report.check("document_hash").result == "skipped"
    assert report.indication != "TOTAL_PASSED"
    with_data = verify_stamp(der, data=interop("UserV4.esl"))
    assert with_data.check("document_hash").result == "failed"
    assert (with_data.indication, with_data.sub_indication) == ("TOTAL_FAILED", "HASH_FAILURE")
    assert with_data.signer.serial_hex and with_data.signed_at == stamp.signing_time
    json.dumps(with_data.to_dict())
    assert "HASH_FAILURE" in with_data.to_text()


def test_vendor_seal_parses_but_its_maker_signature_fails():
    der = interop("SESealData.DER")
    seal = parse_seal(der)
    assert (seal.vendor, seal.picture_type, seal.layout) == ("Vid HebeiGede", "GIF", 4)
    assert len(seal.extensions) == 3
    report = verify_seal(der, at=seal.valid_start)
    assert report.check("seal_signature").result == "failed"
    assert (report.indication, report.sub_indication) == ("TOTAL_FAILED", "SIG_CRYPTO_FAILURE")


def test_tampered_tbs_breaks_the_stamp_signature():
    der = bytearray(interop("SignedValueV4.dat"))
    stamp = parse_signature(bytes(der))
    at = der.find(stamp.property_info.encode())
    der[at] ^= 0x01
    report = verify_stamp(bytes(der))
    assert report.check("stamp_signature").result == "failed"
    assert report.check("seal_signature").result == "passed"
    assert report.sub_indication == "SIG_CRYPTO_FAILURE"


def test_parse_rejects_the_wrong_kind_with_a_clear_message():
    with pytest.raises(DomainError, match="stamp"):
        parse_seal(interop("SignedValueV4.dat"))
    with pytest.raises(DomainError, match="seal"):
        parse_signature(interop("UserV4.esl"))
    report = verify_stamp(interop("UserV4.esl"))
    assert (report.indication, report.sub_indication) == ("TOTAL_FAILED", "FORMAT_FAILURE")


# --- seals built with the specs -------------------------------------------------------------------


def test_specs_build_a_v4_seal_and_stamp_that_verify(pki):
    seal = build_seal(pki["maker"], pki["maker_cert"], [pki["signer_cert"]])
    assert parse_seal(seal.dump()).cert_list == (pki["signer_cert"],)
    data = b'{"license":"1.2.156.3005.2.x"}'
    der = build_stamp(pki["signer"], pki["signer_cert"], seal, data)
    calls = []
    report = verify_stamp(der, data=data, cert_checker=trusting_checker(calls))
    assert report.indication == "TOTAL_PASSED", report.to_text()
    assert {purpose for _, _, purpose in calls} == {"seal-signer", "seal-maker"}
    assert [at for _, at, purpose in calls if purpose == "seal-maker"] == [T0]
    signer_at = [at for _, at, purpose in calls if purpose == "seal-signer"]
    assert signer_at[0] == T0 and signer_at[1] > T0  # also now: no time stamp proves the claimed time
    assert report.signed_at == T0 and report.seal.name == "测试专用章"
    assert verify_stamp(der, data=data).indication == "INDETERMINATE"


def test_v5_seal_and_stamp_with_digest_cert_list(pki):
    seal = build_seal(pki["maker"], pki["maker_cert"], [pki["signer_cert"]], version=5, digests=True)
    der = build_stamp(pki["signer"], pki["signer_cert"], seal, b"doc", version=5)
    report = verify_stamp(der, data=b"doc", cert_checker=trusting_checker())
    assert report.check("signer_in_cert_list").result == "passed"
    assert report.indication == "TOTAL_PASSED", report.to_text()


def test_signer_outside_the_cert_list_and_version_mismatch_fail(pki):
    other = make_cert(pki["signer"], "Not listed", serial=99)
    seal = build_seal(pki["maker"], pki["maker_cert"], [other])
    report = verify_stamp(
        build_stamp(pki["signer"], pki["signer_cert"], seal, b"d"), data=b"d", cert_checker=trusting_checker()
    )
    assert (report.indication, report.sub_indication) == ("TOTAL_FAILED", "SIG_CONSTRAINTS_FAILURE")
    seal4 = build_seal(pki["maker"], pki["maker_cert"], [pki["signer_cert"]])
    tbs = a.TBS_Sign_V4(
        {"version": 3, "eseal": seal4, "time_info": T0, "data_hash": sm3(b"d"), "property_info": "x"}
    )
    der = a.SES_Signature_V4(
        {
            "to_sign": tbs,
            "cert": pki["signer_cert"],
            "signature_alg_id": SM3_WITH_SM2,
            "signature": pki["signer"].sign(tbs.dump()),
        }
    ).dump()
    report = verify_stamp(der, data=b"d", cert_checker=trusting_checker())
    assert report.check("version_match").result == "failed"
    assert report.sub_indication == "FORMAT_FAILURE"


def test_declared_time_outside_the_seal_validity_is_indeterminate(pki):
    seal = build_seal(
        pki["maker"],
        pki["maker_cert"],
        [pki["signer_cert"]],
        valid=(T0 - timedelta(days=60), T0 - timedelta(days=1)),
    )
    report = verify_stamp(
        build_stamp(pki["signer"], pki["signer_cert"], seal, b"d"), data=b"d", cert_checker=trusting_checker()
    )
    assert report.check("seal_validity").result == "indeterminate"
    assert (report.indication, report.sub_indication) == ("INDETERMINATE", "OUT_OF_BOUNDS_NO_POE")


def test_trusted_time_stamp_sets_the_signing_time_and_proves_expiry(pki):
    tsa = SM2PrivateKey.generate()
    tsa_cert = make_cert(tsa, "TSA", serial=3)
    seal = build_seal(
        pki["maker"],
        pki["maker_cert"],
        [pki["signer_cert"]],
        valid=(T0 - timedelta(days=60), T0 + timedelta(days=10)),
    )
    late = T0 + timedelta(days=20)
    der = build_stamp(
        pki["signer"],
        pki["signer_cert"],
        seal,
        b"d",
        time_stamp=lambda sig: make_token(tsa, tsa_cert, sig, late),
    )
    assert parse_signature(der).time_stamp_tagging == "EXPLICIT"
    report = verify_stamp(der, data=b"d", cert_checker=trusting_checker())
    assert report.check("timestamp").result == "passed", report.to_text()
    assert report.signed_at == late
    assert (report.indication, report.sub_indication) == ("TOTAL_FAILED", "EXPIRED")
    # A token over some other value is ignored, and the declared time is used instead.
    der = build_stamp(
        pki["signer"],
        pki["signer_cert"],
        seal,
        b"d",
        time_stamp=lambda sig: make_token(tsa, tsa_cert, b"other", late),
    )
    report = verify_stamp(der, data=b"d", cert_checker=trusting_checker())
    assert report.check("timestamp").result == "indeterminate" and report.signed_at == T0


def test_implicit_time_stamp_tagging_is_accepted_on_read(pki):
    seal = build_seal(
        pki["maker"], pki["maker_cert"], [pki["signer_cert"]], version=5, time_stamp=b"\x01\x02"
    )
    parts = a.children(a.read_single(seal.dump()))
    assert parts[4].raw == b"\xa0\x05\x03\x03\x00\x01\x02"  # written [0] EXPLICIT
    der = a.der_sequence(*(p.raw for p in parts[:4]), b"\x80\x03\x00\x01\x02")  # read back [0] IMPLICIT
    parsed = parse_seal(der)
    assert (parsed.time_stamp, parsed.time_stamp_tagging) == (b"\x01\x02", "IMPLICIT")
    assert verify_seal(der, at=T0).check("seal_signature").result == "passed"


def test_rsa_stamp_verifies_and_algorithm_mismatch_is_flagged(pki):
    key = RsaKey()
    cert = make_cert(key, "RSA holder", serial=4)
    seal = build_seal(pki["maker"], pki["maker_cert"], [cert])
    der = build_stamp(key, cert, seal, b"d", alg="1.2.840.113549.1.1.11")
    report = verify_stamp(der, data=b"d", cert_checker=trusting_checker())
    assert report.check("document_hash").result == "failed"  # RSA-SHA256 hashes the document with SHA-256
    der = build_stamp(key, cert, seal, b"d", alg="1.2.840.113549.1.1.11", data_hash=_sha256(b"d"))
    report = verify_stamp(der, data=b"d", cert_checker=trusting_checker())
    assert report.indication == "TOTAL_PASSED", report.to_text()
    der = build_stamp(key, cert, seal, b"d", alg=SM3_WITH_SM2)
    report = verify_stamp(der, data=b"d", cert_checker=trusting_checker())
    assert report.check("algorithm_consistency").result == "failed"
    assert report.indication == "TOTAL_FAILED"


def _sha256(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SHA256())
    h.update(data)
    return h.finalize()


def test_cert_checker_results_are_kept_and_a_crashing_checker_is_indeterminate(pki):
    seal = build_seal(pki["maker"], pki["maker_cert"], [pki["signer_cert"]])
    der = build_stamp(pki["signer"], pki["signer_cert"], seal, b"d")

    def revoked(cert_der, at, purpose):
        if purpose == "seal-signer":
            return [Check("revocation", "failed", "revoked before signing", "REVOKED")]
        return [Check("chain", "passed", "ok")]

    report = verify_stamp(der, data=b"d", cert_checker=revoked)
    assert report.check("signer_certificate: revocation").result == "failed"
    assert (report.indication, report.sub_indication) == ("TOTAL_FAILED", "REVOKED")

    def broken(cert_der, at, purpose):
        raise RuntimeError("store unavailable")

    report = verify_stamp(der, data=b"d", cert_checker=broken)
    assert report.indication == "INDETERMINATE"


def test_report_indication_rules():
    passed, skipped = Check("a", "passed", ""), Check("b", "skipped", "")
    undecided = Check("c", "indeterminate", "", "NO_CERTIFICATE_CHAIN_FOUND")
    failed = Check("d", "failed", "", "HASH_FAILURE")
    assert derive_indication([passed, skipped]) == ("TOTAL_PASSED", None)
    assert derive_indication([passed, undecided]) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")
    assert derive_indication([undecided, failed, Check("e", "failed", "", "REVOKED")]) == (
        "TOTAL_FAILED",
        "HASH_FAILURE",
    )
    with pytest.raises(ValueError):
        Check("x", "ok", "")
    seal = SealInfo("1", "seal", 1, 4, "v", T0, T0, T0, "png", 40, 40, picture=b"\x89PNG")
    report = Report.from_checks([passed, failed], signed_at=T0, seal=seal)
    data = report.to_dict()
    assert data["signed_at"] == "2025-01-01T00:00:00+00:00" and data["seal"]["valid_end"].startswith("2025")
    assert "picture" not in data["seal"] and report.seals == (seal,)
    assert data["checks"][1] == {
        "name": "d",
        "result": "failed",
        "detail": "",
        "sub_indication": "HASH_FAILURE",
    }
    assert report.to_text().splitlines()[0] == "Indication: TOTAL_FAILED (HASH_FAILURE)"


def test_specs_build_a_v1_seal_and_stamp_that_verify(pki):
    start, end = (x509.Time({"utc_time": t}) for t in (T0 - timedelta(days=30), T0 + timedelta(days=30)))
    info = a.SES_SealInfo_V1(
        {
            "header": {"id": "ES", "version": 1, "vid": "LongTrustTest"},
            "es_id": "11010800000002",
            "property": {
                "type": 2,
                "name": "个人章",
                "cert_list": [pki["signer_cert"]],
                "create_date": start,
                "valid_start": start,
                "valid_end": end,
            },
            "picture": {"type": "PNG", "data": b"png", "width": 20, "height": 20},
        }
    )
    maker_cert_t = core.OctetString(pki["maker_cert"])
    alg_t = core.ObjectIdentifier(SM3_WITH_SM2)
    signed_range = a.der_sequence(info.dump(), maker_cert_t.dump(), alg_t.dump())
    seal = a.SESeal_V1(
        {
            "eseal_info": info,
            "sign_info": {
                "cert": pki["maker_cert"],
                "signature_algorithm": SM3_WITH_SM2,
                "sign_data": pki["maker"].sign(signed_range),
            },
        }
    )
    assert verify_seal(seal.dump(), at=T0).check("seal_signature").result == "passed"
    tbs = v.TBS_Sign_V1(
        {
            "version": 1,
            "eseal": seal,
            "time_info": b"250101000000Z",
            "data_hash": sm3(b"d"),
            "property_info": "doc",
            "cert": pki["signer_cert"],
            "signature_algorithm": SM3_WITH_SM2,
        }
    )
    der = v.SES_Signature_V1({"to_sign": tbs, "signature": pki["signer"].sign(tbs.dump())}).dump()
    stamp = parse_signature(der)
    assert (stamp.layout, stamp.signing_time) == (1, T0)
    report = verify_stamp(der, data=b"d", cert_checker=trusting_checker())
    assert report.indication == "TOTAL_PASSED", report.to_text()
