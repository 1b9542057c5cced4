"""Profiles, TBS building (templated and plain), signing, the read-back check and our lints.

The hierarchy helpers at the top are also used by tests/interop/test_openssl_pkilint_certs.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest
import yaml
from asn1crypto import core as asn1_core
from asn1crypto import keys as asn1_keys
from asn1crypto import pem, x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ca.builder import (
    CertificateCheckError,
    Issuer,
    TbsTemplate,
    build_tbs,
    check_signed,
    key_identifier,
    random_serial,
    sign_tbs,
)
from ca.lint import lint_tbs
from core.errors import DomainError
from core.oids import GMT0015_CREDIT_CODE
from keys.signer import CryptographySigner, SM2Signer
from keys.sm2 import SM2PrivateKey
from policies.profiles import DEFAULT_PATH, ProfileError, load_profiles

URL = "http://127.0.0.1:8400"
CODE = "91440300708461136T"  # a real unified social credit code (standards.md §6.6)
SM2_SIGNATURE_ALGORITHM = bytes.fromhex("300a06082a811ccf55018375")  # 1.2.156.10197.1.501, no parameters
RSA_SIGNATURE_ALGORITHM = bytes.fromhex("300d06092a864886f70d01010b0500")  # sha256WithRSA, NULL
PROFILES = load_profiles()
END_ENTITY = [name for name, p in PROFILES.items() if not p.ca]


# --- a throw-away hierarchy built with the builder itself --------------------------------------


@dataclass
class Node:
    ca_id: str
    cert: x509.Certificate
    signer: object

    @property
    def pem(self) -> bytes:
        return pem.armor("CERTIFICATE", self.cert.dump())


@dataclass
class Hierarchy:
    family: str
    root: Node
    issuing: Node
    leaves: dict[str, x509.Certificate] = field(default_factory=dict)  # "profile/key kind" -> cert


def new_signer(kind: str, ref: str = "test"):
    if kind == "sm2":
        return SM2Signer(ref, SM2PrivateKey.generate())
    if kind == "rsa":
        return CryptographySigner(ref, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return CryptographySigner(ref, ec.generate_private_key(ec.SECP256R1()))


def name(organization: str, cn: str | None = None) -> x509.Name:
    fields = {"country_name": "CN", "organization_name": organization, "common_name": cn or organization}
    return x509.Name.build(fields)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def issue(profile_name: str, issuer: Node | None, subject: x509.Name, spki, signer=None, **kw):
    """Build, lint (must be clean), sign and check one certificate; ``issuer`` None = self-signed."""
    profile = PROFILES[profile_name]
    start = now() - timedelta(minutes=1)
    end = start + timedelta(days=profile.max_validity_days)
    if issuer is not None:
        end = min(end, issuer.cert.not_valid_after)
    if issuer is None:
        info = Issuer.self_signed(kw.pop("ca_id"), subject, spki)
    else:
        info = Issuer.from_certificate(issuer.ca_id, issuer.cert)
    credit_code = kw.pop("credit_code", CODE if profile.credit_code == "required" else None)
    tbs = TbsTemplate(profile, info, URL).build(
        serial=random_serial(),
        not_before=start,
        not_after=end,
        subject=subject,
        spki=spki,
        credit_code=credit_code,
        **kw,
    )
    assert lint_tbs(tbs, issuer.cert if issuer else None, profile) == []
    signer = signer or issuer.signer
    der = sign_tbs(tbs, signer)
    check_signed(der, tbs, (issuer.cert.public_key if issuer else spki))
    return x509.Certificate.load(der)


@cache
def hierarchy(family: str) -> Hierarchy:
    """Root + issuing CA of ``family`` and one leaf per end-entity profile and accepted key kind."""
    root_signer = new_signer(family, f"{family}-root")
    root_name = name("LongTrust 测试", f"LongTrust {family.upper()} Root")
    root_cert = issue(
        "root-ca", None, root_name, root_signer.public_key_info(), root_signer, ca_id=f"{family}-root"
    )
    root = Node(f"{family}-root", root_cert, root_signer)
    issuing_signer = new_signer(family, f"{family}-issuing")
    issuing_cert = issue(
        "issuing-ca",
        root,
        name("LongTrust 测试", f"LongTrust {family.upper()} Issuing CA"),
        issuing_signer.public_key_info(),
    )
    result = Hierarchy(family, root, Node(f"{family}-issuing", issuing_cert, issuing_signer))
    kinds = ["sm2"] if family == "sm2" else ["rsa", "ecdsa-p256"]
    for profile_name in END_ENTITY:
        for kind in kinds:
            if kind not in PROFILES[profile_name].algorithms:
                continue
            spki = new_signer(kind).public_key_info()
            subject = name("某市市场监督管理局", f"{profile_name} {kind}")
            result.leaves[f"{profile_name}/{kind}"] = issue(profile_name, result.issuing, subject, spki)
    return result


def _issuer_node(family: str = "sm2") -> Node:
    return hierarchy(family).issuing


def _tbs(profile_name: str = "organization-signing", kind: str = "sm2", family: str = "sm2", **kw) -> bytes:
    issuing = _issuer_node(family)
    args = dict(
        serial=random_serial(),
        not_before=now(),
        not_after=now() + timedelta(days=30),
        subject=name("某市人民政府"),
        spki=new_signer(kind).public_key_info(),
        credit_code=CODE if PROFILES[profile_name].credit_code != "forbidden" else None,
    )
    args.update(kw)
    return build_tbs(
        PROFILES[profile_name], Issuer.from_certificate(issuing.ca_id, issuing.cert), public_url=URL, **args
    )


def _extensions(cert_or_tbs) -> dict:
    tbs = cert_or_tbs["tbs_certificate"] if isinstance(cert_or_tbs, x509.Certificate) else cert_or_tbs
    return {e["extn_id"].dotted: e for e in tbs["extensions"]}


# --- profiles ----------------------------------------------------------------------------------


def test_profiles_load_with_the_expected_shapes():
    for required in (
        "organization-signing",
        "organization-encryption",
        "seal-maker",
        "seal-signer",
        "tls-client",
        "ocsp-responder",
        "tsa",
        "root-ca",
        "issuing-ca",
    ):
        assert required in PROFILES
    assert PROFILES["tsa"].extended_key_usage == ("timeStamping",)
    assert PROFILES["tsa"].extended_key_usage_critical
    assert PROFILES["ocsp-responder"].ocsp_no_check
    assert PROFILES["ocsp-responder"].max_validity_days <= 90
    assert PROFILES["organization-signing"].credit_code == "required"
    assert PROFILES["organization-encryption"].key_usage_for("rsa") == ("keyEncipherment", "dataEncipherment")
    assert PROFILES["issuing-ca"].ca and PROFILES["issuing-ca"].path_length == 0


def _write_profiles(tmp_path, change) -> str:
    data = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    data.pop("templates")
    change(data["profiles"])
    path = tmp_path / "profiles.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda p: p["tsa"].update(colour="blue"), "unknown keys"),
        (lambda p: p["tsa"].pop("max_validity_days"), "missing keys"),
        (lambda p: p["tsa"].update(max_validity_days=0), "max_validity_days"),
        (lambda p: p["tsa"].update(max_validity_days="ten"), "max_validity_days"),
        (lambda p: p["tsa"].update(rsa_bits=[1024, 4096]), "rsa_bits"),
        (lambda p: p["tsa"].update(algorithms=["dsa"]), "algorithms"),
        (lambda p: p["tsa"].update(extended_key_usage=["timeStamping", "clientAuth"]), "timeStamping"),
        (lambda p: p["tsa"].update(extended_key_usage_critical=False), "timeStamping"),
        (lambda p: p["tls-client"].update(key_usage=["digitalSignature", "keyAgreement"]), "impossible"),
        (lambda p: p["tls-client"].update(key_usage=["keyCertSign"]), "keyCertSign"),
        (lambda p: p["root-ca"].update(path_length=None), "path_length"),
        (lambda p: p["tsa"].update(credit_code="maybe"), "credit_code"),
        (lambda p: p["tsa"].update(certificate_policies=["not-an-oid"]), "certificate_policies"),
        (lambda p: p["tsa"].update(subject_required=["CN", "emailAddress"]), "subject_required"),
        (lambda p: p["ocsp-responder"].update(extended_key_usage=["clientAuth"]), "ocsp_no_check"),
    ],
)
def test_bad_profiles_fail_at_load(tmp_path, change, message):
    with pytest.raises(ProfileError, match=message):
        load_profiles(_write_profiles(tmp_path, change))


def test_profiles_file_must_exist_and_be_a_mapping(tmp_path):
    with pytest.raises(ProfileError):
        load_profiles(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ProfileError):
        load_profiles(tmp_path / "list.yaml")


def test_profile_subject_and_validity_checks():
    profile = PROFILES["organization-signing"]
    assert profile.subject_problems(name("某市人民政府")) == []
    missing_o = x509.Name.build({"common_name": "x"})
    assert any("needs subject attribute O" in p for p in profile.subject_problems(missing_o))
    with_email = x509.Name.build({"common_name": "x", "organization_name": "y", "email_address": "a@b.cn"})
    assert any("not allowed" in p for p in profile.subject_problems(with_email))
    start = now()
    backdated = start + timedelta(days=1825, minutes=1)
    assert profile.validity_problem(start, backdated) is None  # backdating slack
    assert "at most" in profile.validity_problem(start, start + timedelta(days=1826))
    assert profile.validity_problem(start, start) is not None


# --- building ----------------------------------------------------------------------------------


@pytest.mark.parametrize("profile_name", list(PROFILES))
@pytest.mark.parametrize("kind", ["sm2", "rsa", "ecdsa-p256"])
def test_template_is_byte_identical_to_plain_asn1crypto(profile_name, kind):
    profile = PROFILES[profile_name]
    if kind not in profile.algorithms:
        pytest.skip(f"{profile_name} does not accept {kind} keys")
    issuing = _issuer_node("sm2")
    issuer = Issuer.from_certificate(issuing.ca_id, issuing.cert)
    codes = {"required": [CODE], "optional": [CODE, None], "forbidden": [None]}[profile.credit_code]
    spki = new_signer(kind).public_key_info()
    for code in codes:
        args = dict(
            serial=random_serial(),
            not_before=now(),
            not_after=now() + timedelta(days=30),
            subject=name("某市人民政府"),
            spki=spki,
            credit_code=code,
        )
        plain = build_tbs(profile, issuer, public_url=URL, **args)
        templated = TbsTemplate(profile, issuer, URL).build(**args)
        assert templated == plain
        reparsed = dict(args, subject=x509.Name.load(args["subject"].dump()).dump(), spki=spki.dump())
        assert TbsTemplate(profile, issuer, URL).build(**reparsed) == plain


def test_every_profile_certificate_lints_clean_and_has_the_profile_extensions():
    for family in ("sm2", "rsa"):
        h = hierarchy(family)
        for key, cert in h.leaves.items():
            profile = PROFILES[key.split("/")[0]]
            ext = _extensions(cert)
            assert ext["2.5.29.15"]["critical"].native
            assert ext["2.5.29.19"]["critical"].native
            assert ext["2.5.29.19"]["extn_value"].contents == b"\x30\x00"  # cA FALSE (DEFAULT)
            aki = ext["2.5.29.35"]["extn_value"].parsed
            assert aki["key_identifier"].native == h.issuing.cert.key_identifier
            if profile.crl_distribution_point:
                assert cert.crl_distribution_points[0].url == f"{URL}/crl/{family}-issuing.crl"
            if "ocsp" in profile.authority_info_access:
                assert cert.ocsp_urls == [f"{URL}/ocsp"]
            aia = ext["1.3.6.1.5.5.7.1.1"]["extn_value"].parsed.native
            assert {
                "access_method": "ca_issuers",
                "access_location": f"{URL}/ca-certs/{family}-issuing.pem",
            } in aia
            assert ("1.3.6.1.5.5.7.48.1.5" in ext) == profile.ocsp_no_check


def test_tsa_certificate_has_only_critical_timestamping():
    cert = hierarchy("sm2").leaves["tsa/sm2"]
    eku = _extensions(cert)["2.5.29.37"]
    assert eku["critical"].native
    assert [o.dotted for o in eku["extn_value"].parsed] == ["1.3.6.1.5.5.7.3.8"]


def test_ca_certificates():
    h = hierarchy("sm2")
    for node, path_length in ((h.root, 1), (h.issuing, 0)):
        ext = _extensions(node.cert)
        assert ext["2.5.29.19"]["critical"].native
        assert node.cert.basic_constraints_value.native == {"ca": True, "path_len_constraint": path_length}
        assert ext["2.5.29.15"]["critical"].native
        assert node.cert.key_usage_value.native == {"key_cert_sign", "crl_sign"}
        assert node.cert.key_identifier is not None
    assert h.issuing.cert.issuer.dump() == h.root.cert.subject.dump()
    assert h.root.cert.self_signed == "maybe"


def test_sm2_algorithm_identifier_has_no_parameters_and_matches_the_outer_one():
    cert = hierarchy("sm2").leaves["organization-signing/sm2"]
    assert cert["tbs_certificate"]["signature"].dump() == SM2_SIGNATURE_ALGORITHM
    assert cert["signature_algorithm"].dump() == SM2_SIGNATURE_ALGORITHM
    rsa_cert = hierarchy("rsa").leaves["organization-signing/rsa"]
    assert rsa_cert["tbs_certificate"]["signature"].dump() == RSA_SIGNATURE_ALGORITHM
    assert rsa_cert["signature_algorithm"].dump() == RSA_SIGNATURE_ALGORITHM


def test_credit_code_goes_into_subject_and_gmt0015_extension():
    cert = hierarchy("sm2").leaves["organization-signing/sm2"]
    assert cert.subject.native["serial_number"] == CODE
    rdn_values = [a["value"] for rdn in cert.subject.chosen for a in rdn if a["type"].dotted == "2.5.4.5"]
    assert rdn_values[0].name == "printable_string"
    ext = _extensions(cert)[GMT0015_CREDIT_CODE]
    assert not ext["critical"].native
    assert ext["extn_value"].contents == asn1_core.UTF8String(CODE).dump()
    assert ext.dump()[-22:] == b"\x04\x14\x0c\x12" + CODE.encode()


def test_credit_code_rules():
    with pytest.raises(DomainError, match="needs a unified social credit code"):
        _tbs("organization-signing", credit_code=None)
    with pytest.raises(DomainError, match="check character"):
        _tbs("organization-signing", credit_code="91440300708461136A")
    with pytest.raises(DomainError, match="does not carry a credit code"):
        _tbs("tsa", credit_code=CODE)
    other_code = "11100000000013338W"
    other = x509.Name.build({"common_name": "x", "organization_name": "y", "serial_number": other_code})
    with pytest.raises(DomainError, match="differs from credit code"):
        _tbs("organization-signing", subject=other)
    same = x509.Name.build({"common_name": "x", "organization_name": "y", "serial_number": CODE})
    tbs = x509.TbsCertificate.load(_tbs("organization-signing", subject=same))
    assert tbs["subject"].dump() == same.dump()  # not added twice
    assert _tbs("seal-maker", credit_code=None)  # optional


def test_profile_rejects_a_key_kind_it_does_not_accept():
    with pytest.raises(DomainError, match="does not accept ecdsa-p256"):
        _tbs("organization-encryption", kind="ecdsa-p256")
    issuing = _issuer_node()
    issuer = Issuer.from_certificate("x", issuing.cert)
    template = TbsTemplate(PROFILES["organization-encryption"], issuer, URL)
    with pytest.raises(DomainError, match="accepts only"):
        template.build(
            serial=1,
            not_before=now(),
            not_after=now() + timedelta(days=1),
            subject=name("x"),
            spki=new_signer("ecdsa-p256").public_key_info(),
            credit_code=CODE,
        )


def test_random_serials():
    serials = {random_serial() for _ in range(1000)}
    assert len(serials) == 1000
    for serial in serials:
        assert serial > 0 and 2**128 <= serial < 2**136  # 0x01 ‖ 128 random bits: 17 octets, no sign pad
    tbs = x509.TbsCertificate.load(_tbs())
    assert 0 < len(tbs["serial_number"].contents) <= 20
    with pytest.raises(ValueError):
        _tbs(serial=0)


@pytest.mark.parametrize(
    "moment, tag",
    [
        (datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC), "utc_time"),
        (datetime(2050, 1, 1, 0, 0, 0, tzinfo=UTC), "general_time"),
    ],
)
def test_time_encoding_by_year(moment, tag):
    start = datetime(2030, 1, 1, tzinfo=UTC)
    issuing = _issuer_node()
    issuer = Issuer.from_certificate(issuing.ca_id, issuing.cert)
    args = dict(
        serial=random_serial(),
        not_before=start,
        not_after=moment,
        subject=name("某市人民政府"),
        spki=new_signer("sm2").public_key_info(),
        credit_code=CODE,
    )
    profile = PROFILES["organization-signing"]
    plain = build_tbs(profile, issuer, public_url=URL, **args)
    assert TbsTemplate(profile, issuer, URL).build(**args) == plain
    validity = x509.TbsCertificate.load(plain)["validity"]
    assert validity["not_before"].name == "utc_time"
    assert validity["not_after"].name == tag
    assert validity["not_after"].native == moment
    problems = lint_tbs(plain, None, None)
    assert not any("UTCTime" in p or "seconds" in p for p in problems)


def test_times_drop_microseconds_and_need_a_timezone():
    tbs = x509.TbsCertificate.load(_tbs(not_before=datetime(2030, 1, 1, 8, 0, 0, 123456, tzinfo=UTC)))
    assert tbs["validity"]["not_before"].chosen.contents == b"300101080000Z"
    with pytest.raises(ValueError):
        _tbs(not_before=datetime(2030, 1, 1))


def test_subject_key_identifier_is_sha1_of_the_key_bits():
    for key in (rsa.generate_private_key(65537, 2048), ec.generate_private_key(ec.SECP256R1())):
        spki_der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        expected = cx509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest
        assert key_identifier(spki_der) == expected
        assert key_identifier(asn1_keys.PublicKeyInfo.load(spki_der)) == expected
    sm2_key = SM2PrivateKey.generate()
    assert key_identifier(sm2_key.public_key_info()) == hashlib.sha1(sm2_key.public_point).digest()
    cert = hierarchy("sm2").leaves["seal-signer/sm2"]
    assert cert.key_identifier == hashlib.sha1(cert.public_key["public_key"].native).digest()


# --- signing and the read-back check -----------------------------------------------------------


def test_sign_tbs_wraps_exactly_the_tbs_bytes_and_check_signed_accepts():
    for family in ("sm2", "rsa"):
        issuing = _issuer_node(family)
        tbs = _tbs(kind=family, family=family)
        cert = sign_tbs(tbs, issuing.signer)
        assert x509.Certificate.load(cert)["tbs_certificate"].dump() == tbs
        check_signed(cert, tbs, issuing.cert.public_key)


def test_check_signed_rejects_tampering_and_wrong_keys():
    issuing = _issuer_node("sm2")
    tbs = _tbs()
    cert = sign_tbs(tbs, issuing.signer)
    flipped = bytearray(cert)
    flipped[-5] ^= 0x01
    with pytest.raises(CertificateCheckError):
        check_signed(bytes(flipped), tbs, issuing.cert.public_key)
    with pytest.raises(CertificateCheckError, match="linted TBS"):
        check_signed(cert, _tbs(), issuing.cert.public_key)
    with pytest.raises(CertificateCheckError, match="does not verify"):
        check_signed(cert, tbs, hierarchy("sm2").root.cert.public_key)
    with pytest.raises(CertificateCheckError, match="parse"):
        check_signed(cert[:-3], tbs, issuing.cert.public_key)


def test_sign_tbs_refuses_a_signer_of_another_algorithm():
    with pytest.raises(ValueError, match="signer's algorithm"):
        sign_tbs(_tbs(), _issuer_node("rsa").signer)


# --- lints -------------------------------------------------------------------------------------


def _mutate(tbs_der: bytes, change) -> bytes:
    tbs = x509.TbsCertificate.load(tbs_der)
    change(tbs)
    return tbs.dump()


def _set_extension(tbs, oid: str, ext: dict | None) -> None:
    exts = [e for e in tbs["extensions"] if e["extn_id"].dotted != oid]
    tbs["extensions"] = exts + ([x509.Extension(ext)] if ext else [])


def _lint(tbs_der: bytes, profile_name: str = "organization-signing") -> list[str]:
    return lint_tbs(tbs_der, _issuer_node().cert, PROFILES[profile_name])


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda t: t.__setitem__("serial_number", -5), "serial number"),
        (lambda t: t.__setitem__("serial_number", 2**170), "serial number"),
        (lambda t: t.__setitem__("version", "v1"), "v3"),
        (
            lambda t: t["validity"].__setitem__(
                "not_before", x509.Time(name="general_time", value=datetime(2030, 1, 1, tzinfo=UTC))
            ),
            "UTCTime up to 2049",
        ),
        (
            lambda t: t["validity"].__setitem__(
                "not_after", x509.Time(name="utc_time", value=datetime(2020, 1, 1, tzinfo=UTC))
            ),
            "earlier than notAfter",
        ),
        (lambda t: t.__setitem__("issuer", name("Somebody else")), "byte-identical"),
        (lambda t: t.__setitem__("signature", {"algorithm": "sha256_rsa"}), "signature algorithm"),
        (lambda t: _set_extension(t, "2.5.29.35", None), "authorityKeyIdentifier is missing"),
        (
            lambda t: _set_extension(
                t,
                "2.5.29.35",
                {"extn_id": "authority_key_identifier", "extn_value": {"key_identifier": b"x" * 20}},
            ),
            "does not match",
        ),
        (
            lambda t: _set_extension(
                t,
                "2.5.29.15",
                {"extn_id": "key_usage", "critical": False, "extn_value": {"digital_signature"}},
            ),
            "keyUsage must be critical",
        ),
        (
            lambda t: _set_extension(
                t,
                "2.5.29.15",
                {
                    "extn_id": "key_usage",
                    "critical": True,
                    "extn_value": {"digital_signature", "key_cert_sign"},
                },
            ),
            "keyCertSign and basicConstraints",
        ),
        (lambda t: _set_extension(t, "2.5.29.15", None), "keyUsage is missing"),
        (
            lambda t: _set_extension(
                t,
                "2.5.29.19",
                {"extn_id": "basic_constraints", "critical": False, "extn_value": {"ca": True}},
            ),
            "keyCertSign",
        ),
        (
            lambda t: _set_extension(
                t,
                GMT0015_CREDIT_CODE,
                {
                    "extn_id": GMT0015_CREDIT_CODE,
                    "extn_value": asn1_core.UTF8String("11100000000013338W").dump(),
                },
            ),
            "differ",
        ),
        (
            lambda t: _set_extension(
                t,
                GMT0015_CREDIT_CODE,
                {
                    "extn_id": GMT0015_CREDIT_CODE,
                    "extn_value": asn1_core.UTF8String("91440300708461136A").dump(),
                },
            ),
            "check character",
        ),
        (
            lambda t: _set_extension(
                t,
                GMT0015_CREDIT_CODE,
                {
                    "extn_id": GMT0015_CREDIT_CODE,
                    "critical": True,
                    "extn_value": asn1_core.UTF8String(CODE).dump(),
                },
            ),
            "must not be critical",
        ),
        (lambda t: _set_extension(t, GMT0015_CREDIT_CODE, None), "needs the credit code extension"),
        (
            lambda t: _set_extension(
                t, "1.2.3.4", {"extn_id": "1.2.3.4", "critical": True, "extn_value": b"\x05\x00"}
            ),
            "unknown critical extension",
        ),
        (
            lambda t: _set_extension(
                t, "1.3.6.1.5.5.7.48.1.5", {"extn_id": "ocsp_no_check", "extn_value": asn1_core.Null()}
            ),
            "nocheck",
        ),
        (
            lambda t: _set_extension(
                t, "2.5.29.37", {"extn_id": "extended_key_usage", "extn_value": ["client_auth"]}
            ),
            "extKeyUsage differs",
        ),
        (
            lambda t: t["validity"].__setitem__(
                "not_after", x509.Time(name="utc_time", value=now() + timedelta(days=2000))
            ),
            "at most",
        ),
    ],
)
def test_lint_finds_problems(change, expected):
    problems = _lint(_mutate(_tbs(), change))
    assert any(expected in p for p in problems), problems


def test_lint_tsa_eku_must_be_critical_and_alone():
    tbs = _tbs("tsa")
    assert _lint(tbs, "tsa") == []
    not_critical = _mutate(
        tbs,
        lambda t: _set_extension(
            t,
            "2.5.29.37",
            {"extn_id": "extended_key_usage", "critical": False, "extn_value": ["time_stamping"]},
        ),
    )
    extra = _mutate(
        tbs,
        lambda t: _set_extension(
            t,
            "2.5.29.37",
            {
                "extn_id": "extended_key_usage",
                "critical": True,
                "extn_value": ["time_stamping", "client_auth"],
            },
        ),
    )
    for bad in (not_critical, extra):
        assert any("only timeStamping" in p for p in lint_tbs(bad, _issuer_node().cert))


def test_lint_key_usage_must_suit_the_key():
    tbs = _tbs("organization-signing", kind="rsa")
    bad = _mutate(
        tbs,
        lambda t: _set_extension(
            t, "2.5.29.15", {"extn_id": "key_usage", "critical": True, "extn_value": {"key_agreement"}}
        ),
    )
    assert any("not possible with a rsa key" in p for p in lint_tbs(bad, _issuer_node().cert))


def test_lint_ca_needs_ski_and_self_signed_root_needs_no_aki():
    root = hierarchy("sm2").root.cert
    assert lint_tbs(root["tbs_certificate"].dump(), None, PROFILES["root-ca"]) == []
    no_ski = _mutate(root["tbs_certificate"].dump(), lambda t: _set_extension(t, "2.5.29.14", None))
    assert any("subjectKeyIdentifier" in p for p in lint_tbs(no_ski, None))
    no_aki = _mutate(root["tbs_certificate"].dump(), lambda t: _set_extension(t, "2.5.29.35", None))
    assert lint_tbs(no_aki, None, PROFILES["root-ca"]) == []


def test_lint_reports_garbage_instead_of_raising():
    assert lint_tbs(b"\x30\x03\x02\x01\x01")
    assert lint_tbs(b"garbage")
    assert lint_tbs(_tbs()[:-4])
