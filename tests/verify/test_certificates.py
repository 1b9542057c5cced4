"""Path validation of SM2 and RSA certificates through pyhanko-certvalidator with the SM2-aware validator."""

from __future__ import annotations

import asyncio

import pytest
from asn1crypto import cms, x509
from pyhanko.sign.validation.generic_cms import async_validate_cms_signature
from pyhanko_certvalidator import ValidationContext

from tests.verify.pki_fixtures import (
    DAY,
    NOW,
    OCSP_URL,
    YEAR,
    LegacyRSASigner,
    hierarchy,
    issue,
    make_cms,
    make_crl,
    make_ocsp,
    sm2_signer,
)
from verify import certificates
from verify.certificates import make_cert_checker, verify_certificate, verify_certificate_report
from verify.sm2_validation import ALGORITHM_POLICY, SM2_CONTEXT_KWARGS


@pytest.fixture(scope="module")
def sm2():
    return hierarchy("sm2")


@pytest.fixture(scope="module")
def rsa_pki():
    return hierarchy("rsa")


def by_name(checks):
    return {c.name: c for c in checks}


def verify(h, leaf_der=None, **kwargs):
    kwargs.setdefault("chain", h.chain)
    kwargs.setdefault("trust_anchors", [h.root.der])
    return by_name(verify_certificate(leaf_der or h.leaf.der, **kwargs))


@pytest.mark.parametrize("kind", ["sm2", "rsa"])
def test_valid_chain_passes(kind, sm2, rsa_pki):
    h = sm2 if kind == "sm2" else rsa_pki
    checks = verify(h, purpose="signing")
    for name in ("certificate chain", "certificate validity", "key usage"):
        assert checks[name].result == "passed", checks[name]
    assert checks["revocation"].result == "skipped"  # nothing supplied, nothing fetched
    report = verify_certificate_report(h.leaf.der, chain=h.chain, trust_anchors=[h.root.der])
    assert report.indication == "TOTAL_PASSED"


def test_valid_chain_with_crl_passes(sm2):
    crl = make_crl(sm2.issuing)
    checks = verify(sm2, crls=[crl])
    assert checks["revocation"].result == "passed"
    assert checks["certificate chain"].result == "passed"


@pytest.mark.parametrize("kind", ["sm2", "rsa"])
def test_flipped_signature_byte_fails(kind, sm2, rsa_pki):
    h = sm2 if kind == "sm2" else rsa_pki
    der = bytearray(h.leaf.der)
    der[-5] ^= 0x01  # inside signatureValue
    checks = verify(h, bytes(der))
    assert checks["certificate chain"].result == "failed"
    assert checks["certificate chain"].sub_indication == "SIG_CRYPTO_FAILURE"


def test_unknown_root_is_indeterminate(sm2, rsa_pki):
    checks = verify(sm2, trust_anchors=[rsa_pki.root.der])
    assert checks["certificate chain"].result == "indeterminate"
    assert checks["certificate chain"].sub_indication == "NO_CERTIFICATE_CHAIN_FOUND"
    report = verify_certificate_report(sm2.leaf.der, chain=sm2.chain, trust_anchors=[rsa_pki.root.der])
    assert report.indication == "INDETERMINATE"


def test_expired_leaf(sm2):
    leaf = issue("expired", sm2_signer(), sm2.issuing, not_before=NOW - 3 * YEAR, not_after=NOW - YEAR)
    checks = verify(sm2, leaf.der)
    assert checks["certificate validity"].result == "failed"
    assert checks["certificate validity"].sub_indication == "EXPIRED"
    assert checks["certificate chain"].result == "passed"
    inside = verify(sm2, leaf.der, at=NOW - 2 * YEAR)
    assert inside["certificate validity"].result == "passed"
    assert inside["certificate chain"].result == "passed"


def test_not_yet_valid_leaf(sm2):
    leaf = issue("future", sm2_signer(), sm2.issuing, not_before=NOW + DAY, not_after=NOW + YEAR)
    checks = verify(sm2, leaf.der)
    assert checks["certificate validity"].sub_indication == "NOT_YET_VALID"


@pytest.mark.parametrize("kind", ["sm2", "rsa"])
def test_revoked_before_at_is_revoked(kind, sm2, rsa_pki):
    h = sm2 if kind == "sm2" else rsa_pki
    crl = make_crl(h.issuing, [(h.leaf.serial, NOW - 30 * DAY)])
    checks = verify(h, crls=[crl], at=NOW - DAY)
    assert checks["revocation"].result == "failed"
    assert checks["revocation"].sub_indication == "REVOKED"
    assert checks["certificate validity"].result == "passed"
    now = verify(h, crls=[crl])
    assert now["revocation"].sub_indication == "REVOKED"


def test_revoked_after_at_passes(sm2):
    crl = make_crl(sm2.issuing, [(sm2.leaf.serial, NOW - 30 * DAY)])
    checks = verify(sm2, crls=[crl], at=NOW - 60 * DAY)
    assert checks["revocation"].result == "passed"
    assert checks["certificate chain"].result == "passed"


def test_crl_signed_by_another_key_is_not_trusted(sm2):
    impostor = issue("sm2 issuing", sm2_signer(), sm2.root, ca=True)  # same name, different key
    crl = make_crl(impostor, [])
    checks = verify(sm2, crls=[crl])
    assert checks["revocation"].result == "indeterminate"


@pytest.mark.parametrize("digest", ["md5", "sha1"])
def test_weak_rsa_intermediate_rejected_by_allow_list(digest, sm2):
    weak = LegacyRSASigner(f"weak-{digest}", digest)
    intermediate = issue(f"{digest} intermediate", weak, sm2.root, ca=True)  # signed by the SM2 root
    leaf = issue("leaf under weak CA", sm2_signer(), intermediate)  # signed <digest>WithRSA
    checks = verify(sm2, leaf.der, chain=[intermediate.der])
    assert checks["certificate chain"].result == "indeterminate"
    assert checks["certificate chain"].sub_indication == "CRYPTO_CONSTRAINTS_FAILURE"
    assert f"{digest}_rsa" in checks["certificate chain"].detail


def test_rsa_with_sm3_intermediate_in_sm2_chain_passes(sm2):
    intermediate = issue("sm3-rsa intermediate", LegacyRSASigner("rsa-sm3", "sm3"), sm2.root, ca=True)
    leaf = issue("leaf under sm3-rsa CA", sm2_signer(), intermediate)
    checks = verify(sm2, leaf.der, chain=[intermediate.der])
    assert checks["certificate chain"].result == "passed"


def test_allow_list_policy_directly():
    from asn1crypto import algos

    for name, allowed in (
        ("sm3_sm2", True),
        ("sm2_1", True),
        ("sha256_rsa", True),
        ("sha1_rsa", False),
        ("md5_rsa", False),
        ("sha1_ecdsa", False),
    ):
        algo = algos.SignedDigestAlgorithm({"algorithm": name})
        assert bool(ALGORITHM_POLICY.signature_algorithm_allowed(algo, None, None)) is allowed, name
    for name, allowed in (("sm3", True), ("sha256", True), ("sha1", False), ("md5", False)):
        assert (
            bool(ALGORITHM_POLICY.digest_algorithm_allowed(algos.DigestAlgorithm({"algorithm": name}), None))
            is allowed
        )


def test_sm2_validator_accepts_both_oids_and_null_parameters():
    from asn1crypto import algos, core
    from cryptography.exceptions import InvalidSignature
    from pyhanko_certvalidator.sig_validate import SignatureValidationContext

    from verify.sm2_validation import SM2_SIGNATURE_VALIDATOR

    signer = sm2_signer()
    message = b"to be signed"
    signature = signer.sign(message)
    validate = SM2_SIGNATURE_VALIDATOR.validate_signature
    sm3_sm2 = algos.SignedDigestAlgorithm({"algorithm": "sm3_sm2"})
    for algo in (
        algos.SignedDigestAlgorithm({"algorithm": "sm3_sm2"}),
        algos.SignedDigestAlgorithm({"algorithm": "sm3_sm2", "parameters": core.Null()}),
        algos.SignedDigestAlgorithm({"algorithm": "sm2_1"}),
    ):
        validate(signature, message, signer.public_key_info(), algo)
        with pytest.raises(InvalidSignature):
            validate(signature, message + b"!", signer.public_key_info(), algo)
    with pytest.raises(InvalidSignature):  # SM2 needs the message, not a digest
        validate(
            signature,
            message,
            signer.public_key_info(),
            sm3_sm2,
            SignatureValidationContext(contextual_md_algorithm="sm3", prehashed=True),
        )
    with pytest.raises(InvalidSignature):  # an RSA key under an SM2 algorithm
        validate(signature, message, LegacyRSASigner("rsa-x", "sm3").public_key_info(), sm3_sm2)


def test_ocsp_from_delegated_sm2_responder_with_nocheck(sm2):
    """The responder certificate is SM2-signed and carries ocsp-nocheck: certvalidator checks it in a
    context of its own, which the one patch in verify.sm2_validation makes SM2-aware."""
    leaf = issue("ocsp leaf", sm2_signer(), sm2.issuing, ocsp_url=OCSP_URL)
    responder = issue(
        "sm2 ocsp",
        sm2_signer(),
        sm2.issuing,
        eku=["ocsp_signing"],
        ocsp_no_check=True,
        key_usage={"digital_signature"},
    )
    good = make_ocsp(responder, sm2.issuing, leaf.serial)
    checks = verify(sm2, leaf.der, ocsps=[good])
    assert checks["revocation"].result == "passed", checks["revocation"].detail
    revoked = make_ocsp(responder, sm2.issuing, leaf.serial, revoked_at=NOW - 10 * DAY)
    assert verify(sm2, leaf.der, ocsps=[revoked])["revocation"].sub_indication == "REVOKED"
    # Revoked after `at`: certvalidator 0.33 does not take a "revoked later" OCSP answer as proof of good
    # status at `at` (it does for CRLs, see test_revoked_after_at_passes): indeterminate, never REVOKED.
    later = verify(sm2, leaf.der, ocsps=[revoked], at=NOW - 20 * DAY)["revocation"]
    assert later.result == "indeterminate" and later.sub_indication != "REVOKED"


def test_nocheck_responder_needs_the_ocsp_patch(sm2, monkeypatch):
    from pyhanko_certvalidator import context
    from pyhanko_certvalidator.revinfo import validate_ocsp

    leaf = issue("ocsp leaf 2", sm2_signer(), sm2.issuing, ocsp_url=OCSP_URL)
    responder = issue("sm2 ocsp 2", sm2_signer(), sm2.issuing, eku=["ocsp_signing"], ocsp_no_check=True)
    good = make_ocsp(responder, sm2.issuing, leaf.serial)
    monkeypatch.setattr(validate_ocsp, "ValidationContext", context.ValidationContext)  # undo the patch
    assert verify(sm2, leaf.der, ocsps=[good])["revocation"].result != "passed"


def test_key_usage_purposes(sm2):
    checks = verify(sm2, purpose="timestamping")
    assert checks["key usage"].result == "indeterminate"  # no id-kp-timeStamping
    assert verify(sm2, purpose="seal-signer")["key usage"].result == "passed"
    with pytest.raises(ValueError):
        verify(sm2, purpose="no-such-purpose")


def test_malformed_certificate_is_format_failure(sm2):
    checks = verify_certificate(b"\x30\x03\x02\x01\x01", trust_anchors=[sm2.root.der])
    assert checks[0].result == "failed" and checks[0].sub_indication == "FORMAT_FAILURE"


def test_cache_reuses_results_within_a_time_bucket(sm2, monkeypatch):
    calls = []
    original = certificates._validate_path

    async def counting(*args):
        calls.append(args)
        return await original(*args)

    monkeypatch.setattr(certificates, "_validate_path", counting)
    crl = make_crl(sm2.issuing, [(sm2.leaf.serial, NOW - 30 * DAY)])
    first = verify(sm2, crls=[crl], at=NOW - 3 * DAY)
    again = verify(sm2, crls=[crl], at=NOW - 2 * DAY)  # same interval between instants
    assert len(calls) == 1 and first == again
    before = verify(sm2, crls=[crl], at=NOW - 40 * DAY)  # across the revocation date: re-validated
    assert len(calls) == 2
    assert first["revocation"].result == "failed" and before["revocation"].result == "passed"


def test_cert_checker_callback(sm2):
    checker = make_cert_checker([sm2.root.der], crls=[make_crl(sm2.issuing)], extra_certs=sm2.chain)
    checks = by_name(checker(sm2.leaf.der, NOW, "signing"))
    assert all(c.result == "passed" for c in checks.values()), checks


def test_sync_api_inside_running_event_loop(sm2):
    async def inside():
        return verify(sm2)

    assert asyncio.run(inside())["certificate chain"].result == "passed"


# -- pyHanko CMS validation through the SM2 validator ------------------------------------------------------


def test_pyhanko_cms_validation_of_sm2_signed_data(sm2):
    content = "电子证照 payload".encode()
    signed = make_cms(sm2.leaf, content, extra_certs=[sm2.issuing])["content"]
    context = ValidationContext(trust_roots=[sm2.root.cert], **SM2_CONTEXT_KWARGS)
    status = asyncio.run(async_validate_cms_signature(signed, validation_context=context))
    assert status.intact and status.valid and status.trusted
    assert status.pkcs7_signature_mechanism == "sm3_sm2" and status.md_algorithm == "sm3"


def test_pyhanko_cms_detects_tampered_content_and_signature(sm2):
    signed = make_cms(sm2.leaf, b"original", extra_certs=[sm2.issuing])
    tampered = cms.ContentInfo.load(signed.dump())["content"]
    tampered["encap_content_info"]["content"] = b"tampered"
    context = ValidationContext(trust_roots=[sm2.root.cert], **SM2_CONTEXT_KWARGS)
    status = asyncio.run(async_validate_cms_signature(tampered, validation_context=context))
    assert not status.intact and status.valid

    bad_sig = cms.ContentInfo.load(signed.dump())["content"]
    signer_info = bad_sig["signer_infos"][0]
    sig = bytearray(signer_info["signature"].native)
    sig[-3] ^= 0x01
    signer_info["signature"] = bytes(sig)
    status = asyncio.run(async_validate_cms_signature(bad_sig, validation_context=context))
    assert not status.valid


def test_pyhanko_default_validator_cannot_verify_sm2(sm2):
    """Documents why the hook is needed: the stock validator cannot even load an SM2 key."""
    signed = make_cms(sm2.leaf, b"x", extra_certs=[sm2.issuing])["content"]
    context = ValidationContext(trust_roots=[sm2.root.cert])
    with pytest.raises(Exception, match="not supported|Unsupported|1.2.156.10197.1.301"):
        asyncio.run(async_validate_cms_signature(signed, validation_context=context))


def test_leaf_certificate_fixture_is_sm2_signed(sm2):
    cert = x509.Certificate.load(sm2.leaf.der)
    assert cert["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"


def test_stamp_results_filling_their_cache_keep_the_specification(monkeypatch):
    from verify.service import TrustMaterial, VerifyService

    class Trust:
        reads = 0

        def version(self):
            return "unchanged"

        def material(self):
            Trust.reads += 1
            return TrustMaterial(anchors=())

    service = VerifyService(Trust(), stamp_cache_items=3)
    verified = []
    monkeypatch.setattr(
        "verify.service.verify_stamp", lambda der, data, cert_checker: verified.append(der) or der
    )
    spec = service.spec()
    for _ in range(2):
        for i in range(10):  # more stamps than the stamp cache holds
            service._cached_stamp(bytes([i]), data=b"", cert_checker=spec.cert_checker)
    assert service.spec() is spec and Trust.reads == 1
    assert len(verified) == 20  # the stamp cache did roll over
