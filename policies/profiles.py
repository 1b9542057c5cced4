"""Certificate profiles: data in profiles.yaml, validated once at load, plus small pure checks."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from asn1crypto import keys as asn1_keys
from asn1crypto import x509

import core.oids  # noqa: F401  (registers the SM2 curve name with asn1crypto)
from core.oids import SM2_CURVE

DEFAULT_PATH = Path(__file__).with_name("profiles.yaml")

ALGORITHMS = ("sm2", "rsa", "ecdsa-p256")
RSA_LIMITS = (2048, 4096)
CREDIT_CODE_RULES = ("required", "optional", "forbidden")
AIA_METHODS = ("ocsp", "caIssuers")

# RFC 5280 names -> asn1crypto names
KEY_USAGES = {
    "digitalSignature": "digital_signature",
    "nonRepudiation": "non_repudiation",
    "keyEncipherment": "key_encipherment",
    "dataEncipherment": "data_encipherment",
    "keyAgreement": "key_agreement",
    "keyCertSign": "key_cert_sign",
    "cRLSign": "crl_sign",
}
EXTENDED_KEY_USAGES = {
    "serverAuth": "1.3.6.1.5.5.7.3.1",
    "clientAuth": "1.3.6.1.5.5.7.3.2",
    "codeSigning": "1.3.6.1.5.5.7.3.3",
    "emailProtection": "1.3.6.1.5.5.7.3.4",
    "timeStamping": "1.3.6.1.5.5.7.3.8",
    "OCSPSigning": "1.3.6.1.5.5.7.3.9",
}
SUBJECT_ATTRIBUTES = {
    "C": "2.5.4.6",
    "ST": "2.5.4.8",
    "L": "2.5.4.7",
    "O": "2.5.4.10",
    "OU": "2.5.4.11",
    "CN": "2.5.4.3",
    "serialNumber": "2.5.4.5",
}
# key usages a key type cannot serve (RFC 3279 / RFC 5480); SM2 signs, encrypts and agrees keys
KEY_USAGES_IMPOSSIBLE = {
    "rsa": frozenset({"keyAgreement"}),
    "ecdsa-p256": frozenset({"keyEncipherment", "dataEncipherment"}),
    "sm2": frozenset(),
}
_ATTRIBUTE_NAMES = {oid: name for name, oid in SUBJECT_ATTRIBUTES.items()}
_OID_RE = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
_P256 = "secp256r1"
# notBefore may be backdated this much (clock skew) without counting against max_validity_days
BACKDATE_ALLOWANCE = timedelta(hours=1)


class ProfileError(ValueError):
    """profiles.yaml is malformed: raised at load, never while issuing."""


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    ca: bool
    path_length: int | None
    algorithms: tuple[str, ...]
    rsa_bits: tuple[int, int]
    max_validity_days: int
    subject_required: tuple[str, ...]
    subject_allowed: tuple[str, ...]
    credit_code: str
    key_usage: dict[str, tuple[str, ...]]  # algorithm -> RFC 5280 key usage names
    extended_key_usage: tuple[str, ...]
    extended_key_usage_critical: bool
    crl_distribution_point: bool
    authority_info_access: tuple[str, ...]
    ocsp_no_check: bool
    certificate_policies: tuple[str, ...]
    encryption_pair: str | None = None  # the encryption profile issued beside this one (dual certificates)

    def key_usage_for(self, algorithm: str) -> tuple[str, ...]:
        return self.key_usage[algorithm]

    def key_problem(self, spki: asn1_keys.PublicKeyInfo) -> str | None:
        """None if the profile accepts this subject public key, else why not."""
        try:
            kind, bits = key_type(spki)
        except ValueError as exc:
            return str(exc)
        if kind not in self.algorithms:
            return f"profile {self.name} does not accept {kind} keys (allowed: {', '.join(self.algorithms)})"
        if kind == "rsa" and not self.rsa_bits[0] <= bits <= self.rsa_bits[1]:
            low, high = self.rsa_bits
            return f"profile {self.name} needs RSA keys of {low}-{high} bits, not {bits}"
        return None

    def subject_problems(self, subject: x509.Name) -> list[str]:
        """What is wrong with ``subject`` for this profile (empty list when fine)."""
        problems, seen = [], set()
        for rdn in subject.chosen:
            for attribute in rdn:
                oid = attribute["type"].dotted
                name = _ATTRIBUTE_NAMES.get(oid)
                if name not in self.subject_allowed:
                    problems.append(f"subject attribute {name or oid} is not allowed in profile {self.name}")
                    continue
                value = attribute["value"].native
                if not isinstance(value, str) or not value.strip():
                    problems.append(f"subject attribute {name} is empty")
                seen.add(name)
        problems += [
            f"profile {self.name} needs subject attribute {name}"
            for name in self.subject_required
            if name not in seen
        ]
        return problems

    def validity_problem(self, not_before: datetime, not_after: datetime) -> str | None:
        if not_after <= not_before:
            return "notAfter must be later than notBefore"
        if not_after - not_before > timedelta(days=self.max_validity_days) + BACKDATE_ALLOWANCE:
            return f"profile {self.name} allows at most {self.max_validity_days} days of validity"
        return None


def key_type(spki: asn1_keys.PublicKeyInfo) -> tuple[str, int]:
    """("sm2" | "rsa" | "ecdsa-p256", key bits); ValueError for any other key."""
    algorithm = spki["algorithm"]["algorithm"].native
    if algorithm == "rsa":
        return "rsa", spki["public_key"].parsed["modulus"].native.bit_length()
    if algorithm == "ec":
        params = spki["algorithm"]["parameters"]
        if params.name == "named":
            if params.chosen.dotted == SM2_CURVE:
                return "sm2", 256
            if params.chosen.native == _P256:
                return "ecdsa-p256", 256
            raise ValueError(f"elliptic curve {params.chosen.dotted} is not supported (use SM2 or P-256)")
        raise ValueError("elliptic-curve keys must name their curve (explicit parameters are not accepted)")
    raise ValueError(f"public key algorithm {spki['algorithm']['algorithm'].dotted} is not supported")


def load_profiles(path: str | Path | None = None) -> dict[str, Profile]:
    """Read and validate every profile; ProfileError names the first problem found."""
    path = Path(path) if path else DEFAULT_PATH
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ProfileError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or not set(data) <= {"templates", "profiles"}:
        raise ProfileError(f"{path}: top level must be a mapping with 'profiles' (and optional 'templates')")
    raw = data.get("profiles")
    if not isinstance(raw, dict) or not raw:
        raise ProfileError(f"{path}: 'profiles' must be a non-empty mapping")
    profiles = {name: _profile(str(name), body) for name, body in raw.items()}
    for profile in profiles.values():
        paired = profiles.get(profile.encryption_pair) if profile.encryption_pair else None
        if profile.encryption_pair and (paired is None or paired.ca or paired.encryption_pair):
            raise ProfileError(f"profile {profile.name}: encryption_pair must name an end-entity profile")
    return profiles


_FIELDS = [f.name for f in fields(Profile) if f.name not in ("name", "encryption_pair")]


def _profile(name: str, body: object) -> Profile:
    if not isinstance(body, dict):
        raise ProfileError(f"profile {name}: must be a mapping")
    unknown, missing = set(body) - {*_FIELDS, "encryption_pair"}, set(_FIELDS) - set(body)
    if unknown or missing:
        raise ProfileError(f"profile {name}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")

    def fail(detail: str) -> ProfileError:
        return ProfileError(f"profile {name}: {detail}")

    def names(key: str, allowed) -> tuple[str, ...]:
        if not _distinct_names(body[key], allowed):
            raise fail(f"{key} must be a list of distinct values from {sorted(allowed)}")
        return tuple(body[key])

    def flag(key: str) -> bool:
        if not isinstance(body[key], bool):
            raise fail(f"{key} must be true or false")
        return body[key]

    def count(key: str, low: int) -> int:
        value = body[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise fail(f"{key} must be an integer >= {low}")
        return value

    bits = body["rsa_bits"]
    if (
        not isinstance(bits, list)
        or len(bits) != 2
        or not all(isinstance(b, int) for b in bits)
        or not RSA_LIMITS[0] <= bits[0] <= bits[1] <= RSA_LIMITS[1]
    ):
        raise fail(f"rsa_bits must be [min, max] within {RSA_LIMITS[0]}-{RSA_LIMITS[1]}")
    policies = body["certificate_policies"]
    if not isinstance(policies, list) or not all(isinstance(p, str) and _OID_RE.match(p) for p in policies):
        raise fail("certificate_policies must be a list of dotted OIDs")
    if not isinstance(body["description"], str):
        raise fail("description must be text")
    if body["credit_code"] not in CREDIT_CODE_RULES:
        raise fail(f"credit_code must be one of {CREDIT_CODE_RULES}")
    profile = Profile(
        name=name,
        description=body["description"],
        ca=flag("ca"),
        path_length=None if body["path_length"] is None else count("path_length", 0),
        algorithms=names("algorithms", ALGORITHMS),
        rsa_bits=(bits[0], bits[1]),
        max_validity_days=count("max_validity_days", 1),
        subject_required=names("subject_required", SUBJECT_ATTRIBUTES),
        subject_allowed=names("subject_allowed", SUBJECT_ATTRIBUTES),
        credit_code=body["credit_code"],
        key_usage=_key_usage(body["key_usage"], names("algorithms", ALGORITHMS), fail),
        extended_key_usage=names("extended_key_usage", EXTENDED_KEY_USAGES),
        extended_key_usage_critical=flag("extended_key_usage_critical"),
        crl_distribution_point=flag("crl_distribution_point"),
        authority_info_access=names("authority_info_access", AIA_METHODS),
        ocsp_no_check=flag("ocsp_no_check"),
        certificate_policies=tuple(policies),
        encryption_pair=_optional_name(body.get("encryption_pair"), fail),
    )
    problem = _consistency_problem(profile)
    if problem:
        raise fail(problem)
    return profile


def _optional_name(value, fail) -> str | None:
    if value is not None and not isinstance(value, str):
        raise fail("encryption_pair must be a profile name")
    return value


def _key_usage(value, algorithms: tuple[str, ...], fail) -> dict[str, tuple[str, ...]]:
    """A list (same for every algorithm) or a mapping with exactly the profile's algorithms."""
    per_algorithm = value if isinstance(value, dict) else dict.fromkeys(algorithms, value)
    if set(per_algorithm) != set(algorithms):
        raise fail(f"key_usage must list usages for exactly the algorithms {list(algorithms)}")
    result = {}
    for algorithm, usages in per_algorithm.items():
        if not _distinct_names(usages, KEY_USAGES) or not usages:
            raise fail(f"key_usage for {algorithm} must be a non-empty list of distinct RFC 5280 names")
        impossible = KEY_USAGES_IMPOSSIBLE[algorithm] & set(usages)
        if impossible:
            raise fail(f"key_usage {sorted(impossible)} is impossible with {algorithm} keys")
        result[algorithm] = tuple(usages)
    return result


def _distinct_names(value, allowed) -> bool:
    if not isinstance(value, list) or not all(isinstance(v, str) and v in allowed for v in value):
        return False
    return len(set(value)) == len(value)


def _consistency_problem(p: Profile) -> str | None:
    if not p.algorithms:
        return "algorithms must not be empty"
    cert_signing = {"keyCertSign" in usages for usages in p.key_usage.values()}
    if len(cert_signing) != 1:
        return "keyCertSign must be set for every algorithm or for none"
    signs_certs = cert_signing.pop()
    if p.ca != signs_certs:
        return "keyCertSign belongs in CA profiles and only there"
    if p.ca and p.path_length is None:
        return "CA profiles need a path_length"
    if not p.ca and p.path_length is not None:
        return "path_length only applies to CA profiles"
    if not set(p.subject_required) <= set(p.subject_allowed):
        return "subject_required must be a subset of subject_allowed"
    if p.credit_code != "forbidden" and "serialNumber" not in p.subject_allowed:
        return "a credit code goes into subject serialNumber, so subject_allowed needs serialNumber"
    if "timeStamping" in p.extended_key_usage and (
        p.extended_key_usage != ("timeStamping",) or not p.extended_key_usage_critical
    ):
        return "timeStamping must be the only extended key usage, marked critical (RFC 3161)"
    if p.extended_key_usage_critical and not p.extended_key_usage:
        return "extended_key_usage_critical without extended key usages"
    if p.ocsp_no_check and "OCSPSigning" not in p.extended_key_usage:
        return "ocsp_no_check only belongs in OCSP responder profiles"
    return None
