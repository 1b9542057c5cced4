"""RFC 5280 path validation for SM2 and RSA certificates, reported as checks.

pyhanko-certvalidator does the work (path building, signatures, validity, CRL/OCSP) with the
SM2-aware validator and the algorithm allow-list from ``verify.sm2_validation``. Inputs are bytes:
trust anchors and revocation data come from the caller; nothing is fetched unless asked.

Revocation: 'hard-fail' when CRLs/OCSP responses are supplied or fetching is on, otherwise
'soft-fail'. certvalidator consults revocation data only for certificates that declare a CRL
distribution point or an OCSP responder, and in 'hard-fail' every such certificate in the path
needs usable data. When ``at`` is given, revocation data issued after ``at`` is used
(retroactively), and a certificate revoked after ``at`` is valid at ``at``.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509
from cryptography.exceptions import InvalidSignature
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    DisallowedAlgorithmError,
    ExpiredError,
    InsufficientRevinfoError,
    InvalidCertificateError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
    ValidationError,
)
from pyhanko_certvalidator.util import get_declared_revinfo

from core.der import serial_hex
from core.ses_asn1 import check_structure, read_single
from core.threads import run_sync
from verify.fetching import FetchPolicy, fetcher_backend
from verify.report import (
    EXPIRED,
    FORMAT_FAILURE,
    NO_CERTIFICATE_CHAIN_FOUND,
    NOT_YET_VALID,
    REVOKED,
    SIG_CRYPTO_FAILURE,
    WARNING,
    Check,
    Report,
    SignerInfo,
)
from verify.sm2_validation import ALGORITHM_POLICY, SM2SignatureValidator

logger = logging.getLogger(__name__)

CHAIN, VALIDITY = "certificate chain", "certificate validity"
REVOCATION, KEY_USAGE = "revocation", "key usage"
_STAGES = (CHAIN, VALIDITY, REVOCATION)
# ETSI TS 119 102-1 sub-indications that verify.report does not name.
TRY_LATER = "TRY_LATER"
CRYPTO_CONSTRAINTS_FAILURE = "CRYPTO_CONSTRAINTS_FAILURE"
CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"

_TOLERANCE = timedelta(seconds=1)  # certvalidator's default time tolerance

_SIGNING = frozenset({"digital_signature", "non_repudiation"})
# purpose -> (key usages of which one is needed, extended key usages all needed)
PURPOSES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "signing": (_SIGNING, frozenset()),
    "seal-signer": (_SIGNING, frozenset()),
    "seal-maker": (_SIGNING, frozenset()),
    "timestamping": (_SIGNING, frozenset({"time_stamping"})),
    "ocsp-signing": (_SIGNING, frozenset({"ocsp_signing"})),
    "tls-client": (frozenset({"digital_signature"}), frozenset({"client_auth"})),
    "ca": (frozenset({"key_cert_sign"}), frozenset()),
}

CertChecker = Callable[[bytes, datetime, str], list[Check]]


def verify_certificate(
    cert_der: bytes,
    *,
    chain: Sequence[bytes] = (),
    trust_anchors: Sequence[bytes],
    at: datetime | None = None,
    crls: Sequence[bytes] = (),
    ocsps: Sequence[bytes] = (),
    fetch_revocation: bool | FetchPolicy = False,
    purpose: str | None = None,
) -> list[Check]:
    """Checks 'certificate chain', 'certificate validity', 'revocation' and 'key usage' for `cert_der`;
    safe inside a running event loop; a cache hit needs no loop."""
    job = _Job(cert_der, chain, trust_anchors, at, crls, ocsps, fetch_revocation, purpose)
    path_checks = _CACHE.get(job.key, job.moment)
    if path_checks is None:
        path_checks = run_sync(job.validate)
    return job.with_key_usage(path_checks)


def verify_certificate_report(cert_der: bytes, **kwargs) -> Report:
    """`verify_certificate` wrapped in a Report (same keyword arguments); `signer` names the certificate."""
    checks = verify_certificate(cert_der, **kwargs)
    try:
        cert = x509.Certificate.load(cert_der)
        signer = SignerInfo(
            cert.subject.human_friendly, serial_hex(cert.serial_number), cert.issuer.human_friendly
        )
    except (ValueError, TypeError):
        signer = None
    return Report.from_checks(checks, signer=signer)


def make_cert_checker(
    trust_anchors: Iterable[bytes],
    crls: Iterable[bytes] = (),
    ocsps: Iterable[bytes] = (),
    extra_certs: Iterable[bytes] = (),
    *,
    fetch_revocation: bool | FetchPolicy = False,
) -> CertChecker:
    """A `cert_checker(cert_der, at, purpose)` for the seal / OFD / PDF verifiers, bound to these inputs."""
    anchors, crl_list, ocsp_list, extra = tuple(trust_anchors), tuple(crls), tuple(ocsps), tuple(extra_certs)

    def cert_checker(cert_der: bytes, at: datetime | None, purpose: str | None) -> list[Check]:
        return verify_certificate(
            cert_der,
            chain=extra,
            trust_anchors=anchors,
            at=at,
            crls=crl_list,
            ocsps=ocsp_list,
            fetch_revocation=fetch_revocation,
            purpose=purpose,
        )

    return cert_checker


# -- path validation --------------------------------------------------------------------------------------


ENCODING = "certificate encoding"


def load_leniently(der: bytes) -> tuple[x509.Certificate, str | None]:
    """The certificate and a description of its encoding quirk, if any (RFC 5280 / X.690 rules that real
    certificates break and OpenSSL tolerates: 8-bit bytes in an IA5String, a string type other than the
    one the standard names). The DER structure itself must be sound, or ValueError is raised; the quirk
    is reported as a warning and never changes a verdict."""
    check_structure(read_single(der))
    cert = x509.Certificate.load(der, strict=True)
    tbs = cert["tbs_certificate"]
    for part in ("version", "serial_number", "validity", "subject_public_key_info"):
        tbs[part].native  # noqa: B018  (these must decode: validation needs them)
    try:
        cert.native  # noqa: B018  (every string too)
    except (ValueError, TypeError) as exc:
        quirk = f"{type(exc).__name__}: {exc}"
    else:
        return cert, None
    cert = LenientCertificate.load(der, strict=True)
    repaired = lenient_names(cert)
    return cert, quirk + (f" (read as Latin-1: {', '.join(repaired)})" if repaired else "")


class LenientCertificate(x509.Certificate):
    """An X.509 certificate whose subject and issuer names read strings that do not decode as Latin-1
    (as OpenSSL prints them), so names compare during path building. The encoding, and so every
    signature over it, is unchanged; the class survives asn1crypto's copies (``untag``)."""

    @property
    def subject(self) -> x509.Name:
        return _readable(self["tbs_certificate"]["subject"])

    @property
    def issuer(self) -> x509.Name:
        return _readable(self["tbs_certificate"]["issuer"])


def _readable(name: x509.Name) -> x509.Name:
    try:
        name.native, name.human_friendly  # noqa: B018
    except (ValueError, TypeError):
        name = x509.Name.load(name.dump())
        lenient_name(name)
    return name


def lenient_names(cert: x509.Certificate) -> list[str]:
    """What `LenientCertificate` reads as Latin-1 in `cert`'s names, e.g. ["subject email_address"]."""
    tbs = x509.TbsCertificate.load(cert["tbs_certificate"].dump())
    return [f"{which} {kind}" for which in ("subject", "issuer") for kind in lenient_name(tbs[which])]


def lenient_name(name: x509.Name) -> list[str]:
    """`lenient_names` for one Name (changed in place); returns the attribute types swapped."""
    repaired = []
    for rdn in name.chosen:
        for attribute in rdn:
            value = attribute["value"]
            try:
                value.native  # noqa: B018
            except (ValueError, TypeError):
                lenient = type(f"Lenient{type(value).__name__}", (type(value),), {"__unicode__": _latin1})
                attribute["value"] = lenient.load(value.dump())
                repaired.append(attribute["type"].native)
    return repaired


def readable_name(name: x509.Name) -> str:
    """`name.human_friendly`; when a string does not decode, every value is shown as its bytes read as
    Latin-1 (the most specific attribute first, as asn1crypto does)."""
    try:
        return name.human_friendly
    except (ValueError, TypeError):
        parts = [
            f"{attribute['type'].human_friendly}: {_latin1(attribute['value'])}"
            for rdn in name.chosen
            for attribute in rdn
        ]
        return ", ".join(reversed(parts))


def _for_path(der: bytes) -> x509.Certificate:
    """A chain or anchor certificate for path building, its names read leniently when they must be."""
    cert = x509.Certificate.load(der)
    try:
        cert.subject.hashable, cert.issuer.hashable  # noqa: B018  (what path building compares)
    except (ValueError, TypeError):
        return LenientCertificate.load(der)
    return cert


def _latin1(value) -> str:
    return value.contents.decode("latin-1")


class _Job:
    """One verification request: checked arguments, its cache key and time bucket."""

    def __init__(self, cert_der, chain, anchors, at, crls, ocsps, fetch, purpose):
        if purpose is not None and purpose not in PURPOSES:
            raise ValueError(f"unknown purpose {purpose!r}; known: {', '.join(sorted(PURPOSES))}")
        if at is not None and at.utcoffset() is None:
            raise ValueError("`at` must be timezone-aware")
        self.cert_der, self.chain, self.anchors = bytes(cert_der), tuple(chain), tuple(anchors)
        self.crls, self.ocsps = tuple(crls), tuple(ocsps)
        self.fetch, self.purpose, self.at = fetch, purpose, at
        self.moment = at or datetime.now(UTC)
        self.key = _cache_key(self.cert_der, self.chain, self.anchors, self.crls, self.ocsps, fetch)

    async def validate(self) -> list[Check]:
        try:
            cert, quirk = load_leniently(self.cert_der)
        except (ValueError, TypeError) as exc:
            return _failure_checks(CHAIN, "failed", f"not a DER X.509 certificate: {exc}", FORMAT_FAILURE)
        checks = await _validate_path(
            cert, self.chain, self.anchors, self.moment, self.at, self.crls, self.ocsps, self.fetch
        )
        if quirk is not None:
            checks.append(Check(ENCODING, WARNING, f"read leniently, as OpenSSL does: {quirk}"))
        if not self.fetch:  # fetched revocation data has its own cache, bounded by its freshness
            instants = lambda: _instants(self.cert_der, self.chain, self.anchors, self.crls, self.ocsps)  # noqa: E731
            _CACHE.put(self.key, instants, self.moment, checks)
        return checks

    def with_key_usage(self, path_checks: list[Check]) -> list[Check]:
        if path_checks[0].sub_indication == FORMAT_FAILURE:
            return [*path_checks, Check(KEY_USAGE, "skipped", "not a certificate")]
        return [*path_checks, _key_usage_check_cached(self.cert_der, self.purpose)]


async def _validate_path(cert, chain, anchors, moment, at, crls, ocsps, fetch) -> list[Check]:
    if not anchors:
        return _failure_checks(CHAIN, "indeterminate", "no trust anchors given", NO_CERTIFICATE_CHAIN_FOUND)
    backend = fetcher_backend(fetch)  # only what the fetch policy allows (verify.fetching)
    hard = bool(crls or ocsps or fetch)
    recorder = _RecordingValidator()
    try:
        context = ValidationContext(
            trust_roots=[_for_path(a) for a in anchors],
            other_certs=[_for_path(c) for c in chain],
            moment=moment,
            crls=list(crls),
            ocsps=list(ocsps),
            allow_fetching=bool(fetch),
            fetcher_backend=backend,
            revocation_mode="hard-fail" if hard else "soft-fail",
            retroactive_revinfo=at is not None,
            signature_validator=recorder,
            algorithm_usage_policy=ALGORITHM_POLICY,
        )
    except (ValueError, TypeError) as exc:
        return _failure_checks(
            CHAIN,
            "indeterminate",
            f"unusable chain or revocation input: {exc}",
            CERTIFICATE_CHAIN_GENERAL_FAILURE,
        )
    try:
        path = await CertificateValidator(cert, validation_context=context).async_validate_path()
    except Exception as exc:  # a verifier reports on hostile input instead of raising
        bad_signature = any(recorder.failed(c) for c in (cert, *context.certificate_registry))
        return _error_checks(exc, bad_signature)
    finally:
        await context.aclose()
    return _success_checks(path, cert, moment, crls, ocsps, fetch)


def _success_checks(path, cert, moment, crls, ocsps, fetch) -> list[Check]:
    names = " ← ".join(c.subject.human_friendly for c in reversed(list(path.iter_certs(include_root=True))))
    checks = [
        Check(CHAIN, "passed", f"path to a trust anchor: {names}"),
        Check(VALIDITY, "passed", f"every certificate in the path is valid at {moment.isoformat()}"),
    ]
    if not (crls or ocsps or fetch):
        checks.append(Check(REVOCATION, "skipped", "no CRL or OCSP response supplied and fetching is off"))
    elif not any(get_declared_revinfo(cert)):
        checks.append(
            Check(REVOCATION, "skipped", "the certificate names no CRL distribution point or OCSP responder")
        )
    else:
        source = "fetched and supplied" if fetch else "supplied"
        checks.append(Check(REVOCATION, "passed", f"not revoked at {moment.isoformat()} ({source} CRL/OCSP)"))
    return checks


class _RecordingValidator(SM2SignatureValidator):
    """The SM2-aware validator, remembering which signed data failed, to tell a bad signature apart."""

    def __init__(self):
        super().__init__()
        self._failed: set[bytes] = set()

    def validate_signature(self, signature, signed_data, *args, **kwargs):
        try:
            super().validate_signature(signature, signed_data, *args, **kwargs)
        except InvalidSignature:
            self._failed.add(hashlib.sha256(signed_data).digest())
            raise

    def failed(self, cert: x509.Certificate) -> bool:
        return hashlib.sha256(cert["tbs_certificate"].dump()).digest() in self._failed


def _error_checks(exc: Exception, bad_signature: bool = False) -> list[Check]:
    detail = getattr(exc, "failure_msg", None) or f"{type(exc).__name__}: {exc}"
    side = getattr(exc, "is_side_validation", False)
    if isinstance(exc, PathBuildingError | InvalidCertificateError):
        return _failure_checks(CHAIN, "indeterminate", detail, NO_CERTIFICATE_CHAIN_FOUND)
    if side or isinstance(exc, InsufficientRevinfoError):
        return _failure_checks(REVOCATION, "indeterminate", detail, TRY_LATER, _completed(exc))
    if isinstance(exc, RevokedError):
        return _failure_checks(REVOCATION, "failed", detail, REVOKED, _completed(exc))
    if isinstance(exc, ExpiredError):
        return _failure_checks(VALIDITY, "failed", detail, EXPIRED, _completed(exc))
    if isinstance(exc, NotYetValidError):
        return _failure_checks(VALIDITY, "failed", detail, NOT_YET_VALID, _completed(exc))
    if isinstance(exc, DisallowedAlgorithmError):
        return _failure_checks(CHAIN, "indeterminate", detail, CRYPTO_CONSTRAINTS_FAILURE)
    if isinstance(exc, PathValidationError) and bad_signature:
        return _failure_checks(CHAIN, "failed", detail, SIG_CRYPTO_FAILURE)
    if isinstance(exc, ValidationError):
        return _failure_checks(CHAIN, "indeterminate", detail, CHAIN_CONSTRAINTS_FAILURE)
    logger.warning("certificate validation error", exc_info=exc)
    return _failure_checks(CHAIN, "indeterminate", detail, CERTIFICATE_CHAIN_GENERAL_FAILURE)


def _completed(exc: Exception) -> bool:
    """True when the failure is the end-entity's own: the earlier stages then passed for the whole path."""
    return getattr(exc, "is_ee_cert", False) and not getattr(exc, "is_side_validation", False)


def _failure_checks(stage, result, detail, sub_indication, earlier_passed: bool = False) -> list[Check]:
    checks = []
    for name in _STAGES:
        if name == stage:
            checks.append(Check(name, result, detail, sub_indication))
        elif earlier_passed and _STAGES.index(name) < _STAGES.index(stage):
            checks.append(Check(name, "passed", "checked for every certificate in the path"))
        else:
            checks.append(Check(name, "skipped", f"not evaluated: {stage} check did not pass"))
    return checks


@lru_cache(maxsize=4096)
def _key_usage_check_cached(cert_der: bytes, purpose: str | None) -> Check:
    return _key_usage_check(x509.Certificate.load(cert_der), purpose)


def _key_usage_check(cert: x509.Certificate, purpose: str | None) -> Check:
    if purpose is None:
        return Check(KEY_USAGE, "skipped", "no purpose given")
    any_of, all_of = PURPOSES[purpose]
    key_usage = cert.key_usage_value
    if key_usage is not None and not key_usage.native & any_of:
        return Check(
            KEY_USAGE,
            "indeterminate",
            f"key usage {sorted(key_usage.native)} lacks {' or '.join(sorted(any_of))} for {purpose}",
            CHAIN_CONSTRAINTS_FAILURE,
        )
    if all_of:
        eku = cert.extended_key_usage_value
        present = set(eku.native) if eku is not None else set()
        if not (all_of <= present or "any_extended_key_usage" in present):
            return Check(
                KEY_USAGE,
                "indeterminate",
                f"extended key usage lacks {', '.join(sorted(all_of - present))} for {purpose}",
                CHAIN_CONSTRAINTS_FAILURE,
            )
    return Check(KEY_USAGE, "passed", f"usable for {purpose}")


# -- cache of validated chains ------------------------------------------------------------------------------


def _cache_key(cert_der, chain, anchors, crls, ocsps, fetch) -> bytes:
    h = hashlib.sha256(b"longtrust-chain-v1")
    for group in ([cert_der], sorted(chain), sorted(anchors), sorted(crls), sorted(ocsps)):
        h.update(len(group).to_bytes(4, "big"))
        for blob in group:
            h.update(len(blob).to_bytes(8, "big") + blob)
    h.update(b"fetch:%d" % bool(fetch))
    return h.digest()


def _instants(cert_der, chain, anchors, crls, ocsps) -> tuple[datetime, ...]:
    """Every time at which the outcome can change: validity bounds, CRL/OCSP update and revocation times."""
    found: list[datetime] = []
    for der in (cert_der, *chain, *anchors):
        found.extend(_cert_bounds(der))
    for der in crls:
        try:
            tbs = asn1_crl.CertificateList.load(der)["tbs_cert_list"]
            found += [tbs["this_update"].native, tbs["next_update"].native]
            found += [entry["revocation_date"].native for entry in tbs["revoked_certificates"]]
        except (ValueError, TypeError, KeyError):
            continue
    for der in ocsps:
        try:
            basic = asn1_ocsp.OCSPResponse.load(der)["response_bytes"]["response"].parsed
            data = basic["tbs_response_data"]
            found.append(data["produced_at"].native)
            for single in data["responses"]:
                found += [single["this_update"].native, single["next_update"].native]
                if single["cert_status"].name == "revoked":
                    found.append(single["cert_status"].chosen["revocation_time"].native)
            for responder in basic["certs"] or ():
                found.extend(_cert_bounds(responder.dump()))
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
    points = set()
    for t in found:
        if isinstance(t, datetime):
            points.update((t - _TOLERANCE, t, t + _TOLERANCE))
    return tuple(sorted(points))


def _cert_bounds(der: bytes) -> list[datetime]:
    try:
        validity = x509.Certificate.load(der)["tbs_certificate"]["validity"]
        return [validity["not_before"].native, validity["not_after"].native]
    except (ValueError, TypeError, KeyError):
        return []


class _ChainCache:
    """LRU of validation outcomes per input set, bucketed by the interval of time the moment falls in.

    Within one interval between consecutive instants (see `_instants`) certvalidator's answer cannot change,
    so a repeated verification of the same signer at another time in that interval is a dictionary lookup.
    """

    def __init__(self, maxsize: int = 1024, max_buckets: int = 64):
        self.maxsize, self.max_buckets = maxsize, max_buckets
        self._entries: OrderedDict[bytes, tuple[tuple[datetime, ...], dict]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _bucket(points, moment) -> tuple[int, bool]:
        index = bisect.bisect_left(points, moment)
        return index, index < len(points) and points[index] == moment

    def get(self, key: bytes, moment: datetime) -> list[Check] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            points, results = entry
            return results.get(self._bucket(points, moment))

    def put(self, key: bytes, instants: Callable[[], tuple[datetime, ...]], moment, checks) -> None:
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            entry = (instants(), {})
        points, results = entry
        with self._lock:
            if len(results) >= self.max_buckets:
                results.clear()
            results[self._bucket(points, moment)] = list(checks)
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)


_CACHE = _ChainCache()
