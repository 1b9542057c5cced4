"""Our own pre-signing lints on a TBSCertificate (RFC 5280 + GM/T 0015). The issuer signs only
when ``lint_tbs`` returns an empty list; pkilint runs over the same certificates in tests."""

from __future__ import annotations

from asn1crypto import core as asn1_core
from asn1crypto import keys as asn1_keys
from asn1crypto import x509

from ca.builder import SIGNING_ALGORITHM, signature_algorithm
from ca.csr import sm2_point_problem
from core.identity import credit_code_problem
from core.oids import GMT0015_CREDIT_CODE
from policies.profiles import (
    EXTENDED_KEY_USAGES,
    KEY_USAGES,
    KEY_USAGES_IMPOSSIBLE,
    RSA_LIMITS,
    Profile,
    key_type,
)

AKI, SKI, KU, BC = "2.5.29.35", "2.5.29.14", "2.5.29.15", "2.5.29.19"
EKU, SAN, CP, CRLDP = "2.5.29.37", "2.5.29.17", "2.5.29.32", "2.5.29.31"
AIA, NOCHECK = "1.3.6.1.5.5.7.1.1", "1.3.6.1.5.5.7.48.1.5"
KNOWN = {AKI, SKI, KU, BC, EKU, SAN, CP, CRLDP, AIA, NOCHECK, GMT0015_CREDIT_CODE, "2.5.29.30"}
TIME_STAMPING, OCSP_SIGNING = EXTENDED_KEY_USAGES["timeStamping"], EXTENDED_KEY_USAGES["OCSPSigning"]
_IMPOSSIBLE = {kind: {KEY_USAGES[u] for u in usages} for kind, usages in KEY_USAGES_IMPOSSIBLE.items()}


def lint_tbs(
    tbs_der: bytes, issuer: x509.Certificate | None = None, profile: Profile | None = None
) -> list[str]:
    """Problems with ``tbs_der`` (empty when it may be signed). ``issuer`` None means self-signed."""
    try:
        tbs = x509.TbsCertificate.load(tbs_der, strict=True)
        return _lint(tbs, issuer, profile)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        return [f"TBSCertificate is malformed: {exc}"]


def _lint(tbs: x509.TbsCertificate, issuer: x509.Certificate | None, profile: Profile | None) -> list[str]:
    problems: list[str] = []
    add = problems.append
    if tbs["version"].native != "v3":
        add("version must be v3")
    serial = tbs["serial_number"]
    if serial.native <= 0 or len(serial.contents) > 20:
        add("serial number must be positive and at most 20 octets")
    problems += _validity_problems(tbs, issuer, profile)

    subject, spki = tbs["subject"], tbs["subject_public_key_info"]
    issuer_name = issuer.subject if issuer is not None else subject
    issuer_spki = issuer.public_key if issuer is not None else spki
    if not tbs["issuer"].chosen:
        add("issuer name is empty")
    if tbs["issuer"].dump() != issuer_name.dump():
        add("issuer name is not byte-identical to the issuing CA's subject")
    try:
        expected = signature_algorithm(SIGNING_ALGORITHM[key_type(issuer_spki)[0]])
        if tbs["signature"].dump() != expected:
            add("signature algorithm does not match the issuer key (or has the wrong parameters)")
    except ValueError as exc:
        add(f"issuer key: {exc}")
    kind = _key_problems(spki, add)

    extensions = {}
    for ext in tbs["extensions"]:
        oid = ext["extn_id"].dotted
        if oid in extensions:
            add(f"extension {oid} appears twice")
        if ext["critical"].native and oid not in KNOWN:
            add(f"unknown critical extension {oid}")
        extensions[oid] = ext
    problems += _extension_problems(extensions, tbs, issuer, kind)
    if profile is not None:
        problems += _profile_problems(extensions, tbs, profile)
    return problems


def _validity_problems(tbs, issuer, profile) -> list[str]:
    problems = []
    validity = tbs["validity"]
    times = [validity["not_before"], validity["not_after"]]
    for label, time in zip(("notBefore", "notAfter"), times, strict=True):
        utc = 1950 <= time.native.year < 2050
        size = 13 if utc else 15
        if time.name != ("utc_time" if utc else "general_time"):
            problems.append(f"{label} must be UTCTime up to 2049 and GeneralizedTime from 2050")
        if len(time.chosen.contents) != size or not time.chosen.contents.endswith(b"Z"):
            problems.append(f"{label} must have seconds and end in Z")
    if times[0].native >= times[1].native:
        problems.append("notBefore must be earlier than notAfter")
    if issuer is not None and times[1].native > issuer["tbs_certificate"]["validity"]["not_after"].native:
        problems.append("notAfter is later than the issuer's notAfter")
    if profile is not None:
        problem = profile.validity_problem(times[0].native, times[1].native)
        if problem:
            problems.append(problem)
    return problems


def _key_problems(spki: asn1_keys.PublicKeyInfo, add) -> str | None:
    try:
        kind, bits = key_type(spki)
    except ValueError as exc:
        add(f"subject key: {exc}")
        return None
    if kind == "sm2":
        problem = sm2_point_problem(bytes(spki["public_key"].native))
        if problem:
            add(problem)
    if kind == "rsa" and not RSA_LIMITS[0] <= bits <= RSA_LIMITS[1]:
        add(f"RSA key of {bits} bits is outside {RSA_LIMITS[0]}-{RSA_LIMITS[1]}")
    return kind


def _extension_problems(extensions: dict, tbs, issuer, kind: str | None) -> list[str]:
    problems = []
    add = problems.append
    self_signed = issuer is None
    is_ca = BC in extensions and bool(extensions[BC]["extn_value"].parsed["ca"].native)
    if AKI in extensions:
        aki = extensions[AKI]
        if aki["critical"].native:
            add("authorityKeyIdentifier must not be critical")
        key_id = aki["extn_value"].parsed["key_identifier"].native
        expected = issuer.key_identifier if issuer is not None else _own_ski(extensions)
        if key_id is None or (expected is not None and key_id != expected):
            add("authorityKeyIdentifier keyIdentifier does not match the issuer's subjectKeyIdentifier")
    elif not self_signed:
        add("authorityKeyIdentifier is missing")
    if SKI in extensions and extensions[SKI]["critical"].native:
        add("subjectKeyIdentifier must not be critical")
    if is_ca and SKI not in extensions:
        add("CA certificates need a subjectKeyIdentifier")

    usages = set()
    if KU not in extensions:
        add("keyUsage is missing")
    else:
        usages = set(extensions[KU]["extn_value"].parsed.native)
        if not extensions[KU]["critical"].native:
            add("keyUsage must be critical")
        if not usages:
            add("keyUsage has no bits set")
        if kind and usages & _IMPOSSIBLE[kind]:
            add(f"keyUsage {sorted(usages & _IMPOSSIBLE[kind])} is not possible with a {kind} key")
    if ("key_cert_sign" in usages) != is_ca:
        add("keyCertSign and basicConstraints cA=TRUE must go together")
    if BC in extensions:
        bc = extensions[BC]
        if is_ca and not bc["critical"].native:
            add("basicConstraints must be critical in CA certificates")
        if not is_ca and bc["extn_value"].parsed["path_len_constraint"].native is not None:
            add("pathLenConstraint is only allowed when cA is TRUE")

    ekus = []
    if EKU in extensions:
        ekus = [oid.dotted for oid in extensions[EKU]["extn_value"].parsed]
        if not ekus:
            add("extKeyUsage is empty")
        if TIME_STAMPING in ekus and (ekus != [TIME_STAMPING] or not extensions[EKU]["critical"].native):
            add("a TSA certificate's extKeyUsage must be critical and contain only timeStamping")
    nocheck = extensions.get(NOCHECK)
    if nocheck is not None and (OCSP_SIGNING not in ekus or nocheck["extn_value"].contents != b"\x05\x00"):
        add("id-pkix-ocsp-nocheck belongs only in OCSP responder certificates, with a NULL value")

    subject = tbs["subject"]
    if not subject.chosen and (SAN not in extensions or not extensions[SAN]["critical"].native):
        add("an empty subject needs a critical subjectAltName")
    problems += _credit_code_problems(extensions, subject)
    return problems


def _own_ski(extensions: dict) -> bytes | None:
    return extensions[SKI]["extn_value"].parsed.native if SKI in extensions else None


def _credit_code_problems(extensions: dict, subject: x509.Name) -> list[str]:
    if GMT0015_CREDIT_CODE not in extensions:
        return []
    ext = extensions[GMT0015_CREDIT_CODE]
    problems = ["credit code extension must not be critical"] if ext["critical"].native else []
    try:
        code = asn1_core.UTF8String.load(ext["extn_value"].native, strict=True).native
    except (ValueError, TypeError):
        return [*problems, "credit code extension value must be a UTF8String"]
    problem = credit_code_problem(code)
    if problem:
        problems.append(problem)
    in_subject = [a["value"].native for rdn in subject.chosen for a in rdn if a["type"].dotted == "2.5.4.5"]
    if in_subject != [code]:
        problems.append("credit code in the subject serialNumber and in the extension differ")
    return problems


def _profile_problems(extensions: dict, tbs, profile: Profile) -> list[str]:
    problems = profile.subject_problems(tbs["subject"])
    key_problem = profile.key_problem(tbs["subject_public_key_info"])
    if key_problem:
        return [*problems, key_problem]
    kind = key_type(tbs["subject_public_key_info"])[0]
    usages = set(extensions[KU]["extn_value"].parsed.native) if KU in extensions else set()
    if usages != {KEY_USAGES[name] for name in profile.key_usage_for(kind)}:
        problems.append(f"keyUsage differs from profile {profile.name}")
    ekus = [o.dotted for o in extensions[EKU]["extn_value"].parsed] if EKU in extensions else []
    if ekus != [EXTENDED_KEY_USAGES[name] for name in profile.extended_key_usage]:
        problems.append(f"extKeyUsage differs from profile {profile.name}")
    bc = extensions[BC]["extn_value"].parsed if BC in extensions else None
    path_length = bc["path_len_constraint"].native if bc is not None else None
    if bc is None or bool(bc["ca"].native) != profile.ca or path_length != profile.path_length:
        problems.append(f"basicConstraints differ from profile {profile.name}")
    if BC in extensions and not extensions[BC]["critical"].native:
        problems.append(f"basicConstraints must be critical in profile {profile.name}")
    has_code = GMT0015_CREDIT_CODE in extensions
    if profile.credit_code == "required" and not has_code:
        problems.append(f"profile {profile.name} needs the credit code extension")
    if profile.credit_code == "forbidden" and has_code:
        problems.append(f"profile {profile.name} must not carry a credit code")
    return problems
