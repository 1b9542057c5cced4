"""Verify the signatures of an OFD (GB/T 33190) package.

OFD.xml → DocBody/Signatures → Signatures.xml → each Signature (Type Seal or Sign, default Seal) →
Signature.xml: re-hash every Reference, then check SignedValue: a stamp (SES_Signature whose
dataHash is the hash of Signature.xml) or a plain signature (a GB/T 35275 / CMS SignedData, or a bare
SM2 signature over Signature.xml). One report covers all signatures; check names carry a per-signature
prefix such as "Sign_0: ".

The zip is opened defensively: the entry count, total size and compression ratio are bounded and
unsafe names are refused (DomainError) before any entry is read; every read is capped.
"""

from __future__ import annotations

import base64
import contextlib
import io
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from xml.etree.ElementTree import Element, ParseError

from asn1crypto import cms, core
from defusedxml import ElementTree as SafeET

from core import ses_asn1 as a
from core.errors import DomainError, ErrorCode, ErrorKind, invalid
from core.oids import SM3_WITH_SM2
from verify.report import (
    FAILED,
    FORMAT_FAILURE,
    HASH_FAILURE,
    INDETERMINATE,
    NO_SIGNING_CERTIFICATE_FOUND,
    PASSED,
    SIG_CONSTRAINTS_FAILURE,
    SIGNED_DATA_NOT_FOUND,
    Check,
    Report,
)
from verify.ses import (
    PARSE_ERRORS,
    CertChecker,
    certificate_checks,
    digest,
    hash_algorithm,
    load_certificate,
    parse_signature,
    signature_check,
    verify_signed_data,
    verify_stamp,
)
from verify.sm2_validation import sm2_signature_der

MAX_ENTRIES = 2000
MAX_TOTAL = 200 * 1024 * 1024
MAX_RATIO = 200
RATIO_FLOOR = 64 * 1024  # smaller entries cannot amplify anything; XML legitimately compresses well
MAX_XML = 8 * 1024 * 1024
MAX_SIGNATURES = 256
SIGNED_DATA_TYPES = ("1.2.840.113549.1.7.2", "1.2.156.10197.6.1.4.2.2")
CHINA_TIME = timezone(timedelta(hours=8))  # SignatureDateTime carries no zone; producers write local time
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    ValueError,
    OSError,
    EOFError,
    RuntimeError,
    KeyError,
    IndexError,
    OverflowError,
)


class _OfdError(Exception):
    """A structural problem with one part of the package (reported as a check, not raised)."""

    sub_indication = FORMAT_FAILURE


class _Missing(_OfdError):
    sub_indication = SIGNED_DATA_NOT_FOUND


def _too_large(detail: str) -> DomainError:
    return DomainError(ErrorKind.TOO_LARGE, detail, code=ErrorCode.OFD_TOO_LARGE)


def _entry_name_problem(name: str) -> str | None:
    if not name or "\x00" in name:
        return "empty or NUL in name"
    if "\\" in name:
        return "backslash in name"
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return "absolute path"
    if ".." in name.split("/"):
        return "parent-directory component (..)"
    return None


class _Package:
    """The entries of a zip that passed the safety limits; reads are bounded by the declared sizes."""

    def __init__(self, data: bytes):
        if len(data) > MAX_TOTAL:
            raise _too_large(f"the package is larger than {MAX_TOTAL} bytes")
        declared = _declared_entry_count(data)
        if declared is not None and declared > MAX_ENTRIES:
            raise _too_large(f"the package declares {declared} entries; at most {MAX_ENTRIES} are accepted")
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except _ZIP_ERRORS as exc:
            raise invalid(f"not a readable OFD (zip) package: {exc}", code=ErrorCode.INVALID_OFD) from None
        if len(infos) > MAX_ENTRIES:
            raise _too_large(f"the package has {len(infos)} entries; at most {MAX_ENTRIES} are accepted")
        self.entries: dict[str, zipfile.ZipInfo] = {}
        self._digests: dict[tuple[str, str], bytes] = {}
        total = 0
        for info in infos:
            problem = _entry_name_problem(info.filename)
            if problem:
                raise invalid(f"unsafe entry {info.filename!r}: {problem}", code=ErrorCode.INVALID_OFD)
            total += info.file_size
            if total > MAX_TOTAL:
                raise _too_large(f"the entries expand to more than {MAX_TOTAL} bytes")
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * info.compress_size:
                raise _too_large(f"entry {info.filename!r} expands more than {MAX_RATIO} times (zip bomb?)")
            if info.compress_type not in _METHODS:
                raise invalid(
                    f"entry {info.filename!r} uses compression method {info.compress_type}; "
                    "OFD packages are stored or deflated",
                    code=ErrorCode.INVALID_OFD,
                )
            if info.flag_bits & 0x1:
                raise invalid(f"entry {info.filename!r} is encrypted", code=ErrorCode.INVALID_OFD)
            if info.is_dir():
                continue
            key = "/".join(p for p in info.filename.split("/") if p not in ("", "."))
            if key in self.entries:
                raise invalid(f"duplicate entry {info.filename!r}", code=ErrorCode.INVALID_OFD)
            self.entries[key] = info

    def digest(self, name: str, algorithm) -> bytes:
        """Hash of an entry, computed once per entry and algorithm however often it is referenced."""
        key = (name, algorithm.name)
        if key not in self._digests:
            self._digests[key] = digest(algorithm, self.read(name))
        return self._digests[key]

    def read(self, name: str, limit: int = MAX_TOTAL) -> bytes:
        info = self.entries[name]
        if info.file_size > limit:
            raise _OfdError(f"{name} is {info.file_size} bytes; the limit is {limit}")
        try:
            with self._zip.open(info) as stream:
                data = stream.read(info.file_size + 1)
        except _ZIP_ERRORS as exc:
            raise _OfdError(f"{name} cannot be read: {exc}") from None
        if len(data) != info.file_size:
            raise _OfdError(f"{name} is not the size its entry declares")
        return data


OfdPackageError = _OfdError  # a part of an opened package cannot be read


def open_package(data: bytes) -> _Package:
    """The zip entries of an OFD package within the safety limits (``.entries``, ``.read(name)``).

    Raises DomainError (invalid-input, too-large) before reading any entry of an unsafe package;
    ``read`` raises OfdPackageError for an entry that cannot be read.
    """
    return _Package(bytes(data))


def _declared_entry_count(data: bytes) -> int | None:
    """Entry count from the end-of-central-directory record, read before zipfile builds its index."""
    pos = data.rfind(b"PK\x05\x06", max(0, len(data) - 65557))
    if pos < 0 or pos + 22 > len(data):
        return None
    count = int.from_bytes(data[pos + 10 : pos + 12], "little")
    return None if count == 0xFFFF else count  # 0xFFFF: ZIP64, counted after parsing


def _join(base: str, path: str) -> str | None:
    """Normalised package path of `path` relative to directory `base`; None if it leaves the package."""
    parts: list[str] = []
    for part in (path if path.startswith("/") else f"{base}/{path}").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts) or None


def _resolve(pkg: _Package, loc: str | None, *bases: str) -> str:
    """Find ST_Loc `loc`: absolute from the package root, else relative to each base, then to the root."""
    loc = (loc or "").strip()
    if not loc:
        raise _OfdError("empty path")
    if "\\" in loc:
        raise _OfdError(f"path {loc!r} uses backslashes")
    candidates = [_join("", loc)] if loc.startswith("/") else [_join(b, loc) for b in (*bases, "")]
    found = list(dict.fromkeys(c for c in candidates if c is not None and c in pkg.entries))
    if not found:
        raise _Missing(f"{loc} is not in the package")
    if len(found) > 1:  # two readings of one path would let a copy stand in for the real file
        raise _OfdError(f"path {loc!r} is ambiguous: {found}")
    return found[0]


def _xml(pkg: _Package, name: str, data: bytes | None = None) -> Element:
    data = pkg.read(name, MAX_XML) if data is None else data
    try:
        return SafeET.fromstring(data, forbid_dtd=True)
    except (ParseError, ValueError, LookupError) as exc:
        raise _OfdError(f"{name} is not acceptable XML: {exc}") from None


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(element: Element, name: str) -> list[Element]:
    return [c for c in element if _local(c.tag) == name]


def _child(element: Element, name: str) -> Element | None:
    found = _children(element, name)
    return found[0] if found else None


def _text(element: Element | None, name: str) -> str | None:
    child = _child(element, name) if element is not None else None
    return (child.text or "").strip() if child is not None else None


@dataclass
class _Entry:
    label: str
    id: str | None
    type: str
    base_loc: str | None
    bases: tuple[str, ...]
    doc_dir: str
    signatures_path: str
    path: str | None = None


def _signature_entries(pkg: _Package) -> tuple[list[_Entry], int]:
    if "OFD.xml" not in pkg.entries:
        raise _OfdError("OFD.xml is missing")
    root = _xml(pkg, "OFD.xml")
    bodies = _children(root, "DocBody") if _local(root.tag) == "OFD" else []
    if not bodies:
        raise _OfdError("OFD.xml has no ofd:OFD/ofd:DocBody")
    entries: list[_Entry] = []
    for body in bodies:
        doc_dir = posixpath.dirname(_join("", _text(body, "DocRoot") or "") or "")
        signatures_loc = _text(body, "Signatures")
        if not signatures_loc:
            continue
        signatures_path = _resolve(pkg, signatures_loc, doc_dir)
        signatures = _children(_xml(pkg, signatures_path), "Signature")
        if len(entries) + len(signatures) > MAX_SIGNATURES:
            raise _OfdError(f"more than {MAX_SIGNATURES} signatures")
        for sig in signatures:
            entry = _Entry(
                "",
                sig.get("ID"),
                sig.get("Type") or "Seal",
                sig.get("BaseLoc"),
                (posixpath.dirname(signatures_path), doc_dir),
                doc_dir,
                signatures_path,
            )
            with contextlib.suppress(_OfdError):
                entry.path = _resolve(pkg, entry.base_loc, *entry.bases)
            entries.append(entry)
    labels: dict[str, int] = {}
    for i, entry in enumerate(entries):
        where = entry.path or _join("", entry.base_loc or "") or ""
        label = posixpath.basename(posixpath.dirname(where)) or f"Signature_{i}"
        labels[label] = labels.get(label, 0) + 1
        entry.label = label if labels[label] == 1 else f"{label}#{labels[label]}"
    return entries, len(bodies)


def verify_ofd(
    data: bytes,
    *,
    cert_checker: CertChecker | None = None,
    signer_certs: tuple[bytes, ...] | list[bytes] = (),
) -> Report:
    """Verify every signature in an OFD package.

    `signer_certs` are candidate certificates (DER) for bare SM2 `Type="Sign"` signatures, which
    carry no certificate of their own. Unsafe or unreadable packages raise DomainError.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise invalid(f"an OFD package must be given as bytes, not {type(data).__name__}")
    pkg = _Package(bytes(data))
    try:
        entries, documents = _signature_entries(pkg)
    except _OfdError as exc:
        return Report.from_checks([Check("package", FAILED, str(exc), FORMAT_FAILURE)])
    if not entries:
        return Report.from_checks([Check("package", FAILED, "the OFD carries no signatures", FORMAT_FAILURE)])
    checks = [
        Check(
            "package",
            PASSED,
            f"{len(pkg.entries)} files, {documents} document(s), {len(entries)} signature(s)",
        )
    ]
    # Files that belong to signatures themselves are not expected among any signature's references.
    infrastructure = {e.signatures_path for e in entries} | {e.path for e in entries if e.path}
    infrastructure |= {
        posixpath.dirname(e.path)
        for e in entries
        if e.path and posixpath.dirname(e.path) not in ("", e.doc_dir)
    }
    summary: dict = {}
    seals = []
    seen: set[str] = set()
    for entry in entries:
        if entry.path in seen:
            checks.append(
                Check(f"{entry.label}: entry", FAILED, f"/{entry.path} is listed twice", FORMAT_FAILURE)
            )
            continue
        if entry.path:
            seen.add(entry.path)
        sig_checks, found = _verify_signature(pkg, entry, infrastructure, cert_checker, tuple(signer_certs))
        checks += [c.renamed(f"{entry.label}: ") for c in sig_checks]
        summary = summary or found  # the report names the first signature that could be read
        seals += [found["seal"]] if "seal" in found else []
    return Report.from_checks(checks, **summary, seals=seals)


def _verify_signature(
    pkg: _Package,
    entry: _Entry,
    infrastructure: set[str],
    cert_checker: CertChecker | None,
    signer_certs: tuple[bytes, ...],
) -> tuple[list[Check], dict]:
    kind = {"Seal": "electronic seal stamp", "Sign": "plain digital signature"}.get(entry.type)
    try:
        path = entry.path or _resolve(pkg, entry.base_loc, *entry.bases)
        signature_xml = pkg.read(path, MAX_XML)
        root = _xml(pkg, path, signature_xml)
        signed_info = _child(root, "SignedInfo")
        if _local(root.tag) != "Signature" or signed_info is None:
            raise _OfdError(f"{path} is not an ofd:Signature with SignedInfo")
    except _OfdError as exc:
        return [Check("entry", FAILED, f"Type={entry.type}, ID={entry.id}: {exc}", FORMAT_FAILURE)], {}
    method = _text(signed_info, "SignatureMethod")
    when = _text(signed_info, "SignatureDateTime")
    detail = (
        f"Type={entry.type} ({kind or 'unknown type'}), ID={entry.id}, /{path}, "
        f"SignatureMethod={method}, SignatureDateTime={when}"
    )
    if kind is None:
        return [Check("entry", FAILED, detail + ": Type must be Seal or Sign", FORMAT_FAILURE)], {}
    checks = [Check("entry", PASSED, detail)]
    bases = (posixpath.dirname(path), entry.doc_dir)
    ref_checks, protected = _reference_checks(pkg, _child(signed_info, "References"), bases)
    checks += ref_checks
    checks.append(_coverage_check(pkg, protected, infrastructure))
    try:
        value = pkg.read(_resolve(pkg, _text(root, "SignedValue"), *bases))
    except _OfdError as exc:
        checks.append(Check("signed_value", FAILED, f"SignedValue: {exc}", FORMAT_FAILURE))
        return checks, {}
    if entry.type == "Seal":
        report = verify_stamp(value, data=signature_xml, cert_checker=cert_checker)
        checks += report.checks
        seal_loc = _text(_child(signed_info, "Seal"), "BaseLoc")
        if seal_loc and report.seal is not None:
            checks.append(_seal_file_check(pkg, seal_loc, bases, value))
        found = {"signed_at": report.signed_at, "signer": report.signer, "seal": report.seal}
        return checks, {k: v for k, v in found.items() if v is not None}
    sign_checks, found = _plain_signature_checks(
        value, signature_xml, method, when, cert_checker, signer_certs
    )
    return checks + sign_checks, found


def _reference_checks(
    pkg: _Package, references: Element | None, bases: tuple[str, ...]
) -> tuple[list[Check], set[str]]:
    refs = _children(references, "Reference") if references is not None else []
    if len(refs) > MAX_ENTRIES:
        return [
            Check(
                "references",
                FAILED,
                f"{len(refs)} references in a package of at most {MAX_ENTRIES} files",
                FORMAT_FAILURE,
            )
        ], set()
    if not refs:
        return [Check("references", INDETERMINATE, "Signature.xml protects no package files")], set()
    method = references.get("CheckMethod")
    algorithm = hash_algorithm(method or "SM3")
    checks, protected = [], set()
    for ref in refs:
        loc = ref.get("FileRef")
        name = f"reference {loc}"
        try:
            path = _resolve(pkg, loc, *bases)
            protected.add(path)
            expected = base64.b64decode("".join((_text(ref, "CheckValue") or "").split()), validate=True)
            if algorithm is None:
                checks.append(Check(name, INDETERMINATE, f"unsupported CheckMethod {method!r}"))
                continue
            actual = pkg.digest(path, algorithm)
        except ValueError:  # binascii.Error, or characters outside ASCII
            checks.append(Check(name, FAILED, "CheckValue is not base64", FORMAT_FAILURE))
            continue
        except _OfdError as exc:
            result = INDETERMINATE if isinstance(exc, _Missing) else FAILED
            checks.append(Check(name, result, str(exc), exc.sub_indication))
            continue
        label = algorithm.name.upper()
        checks.append(
            Check(name, PASSED, f"{label} matches CheckValue")
            if actual == expected
            else Check(name, FAILED, f"{label} of the file differs from CheckValue", HASH_FAILURE)
        )
    return checks, protected


def _coverage_check(pkg: _Package, protected: set[str], infrastructure: set[str]) -> Check:
    """Unprotected files outside the signatures' own files and folders could change what is shown."""
    loose = sorted(
        n
        for n in pkg.entries
        if n not in protected and n not in infrastructure and posixpath.dirname(n) not in infrastructure
    )
    if not loose:
        return Check("coverage", PASSED, f"every file outside the signatures is protected ({len(protected)})")
    return Check(
        "coverage",
        INDETERMINATE,
        f"{len(loose)} file(s) are not protected by this signature: "
        + ", ".join("/" + n for n in loose[:10]),
    )


def _seal_file_check(pkg: _Package, seal_loc: str, bases: tuple[str, ...], value: bytes) -> Check:
    try:
        seal_file = pkg.read(_resolve(pkg, seal_loc, *bases))
    except _OfdError as exc:
        return Check("seal_file", INDETERMINATE, str(exc), exc.sub_indication)
    if seal_file == parse_signature(value).seal.raw:
        return Check("seal_file", PASSED, f"{seal_loc} is the seal inside the stamp")
    return Check(
        "seal_file", FAILED, f"{seal_loc} differs from the seal inside the stamp", SIG_CONSTRAINTS_FAILURE
    )


def _declared_time(text: str | None) -> datetime | None:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y%m%d%H%M%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text or "", fmt).replace(tzinfo=CHINA_TIME).astimezone(UTC)
        except ValueError:
            continue
    return None


def _plain_signature_checks(
    value: bytes,
    signature_xml: bytes,
    method: str | None,
    when_text: str | None,
    cert_checker: CertChecker | None,
    signer_certs: tuple[bytes, ...],
) -> tuple[list[Check], dict]:
    """Type=Sign: a GB/T 35275 / CMS SignedData, or a bare SM2 signature over Signature.xml."""
    when = _declared_time(when_text)
    try:
        raw = len(value) == 64 and value[:1] != b"\x30"
        top = None if raw else a.read_single(value)
        if top is not None:
            a.check_structure(top)
        parts = a.children(top) if top is not None and top.constructed else []
        if len(parts) == 2 and parts[0].is_universal(a.OID) and parts[1].cls == a.CONTEXT:
            content_type = core.ObjectIdentifier.load(parts[0].raw, strict=True).dotted
            if content_type not in SIGNED_DATA_TYPES:
                return [
                    Check(
                        "format",
                        FAILED,
                        f"SignedValue content type {content_type} is not SignedData",
                        FORMAT_FAILURE,
                    )
                ], {}
            signed_data = cms.SignedData.load(a.children(parts[1])[0].raw, strict=True)
            check, cert = verify_signed_data("signature", signed_data, signature_xml)
            checks = [Check("format", PASSED, f"GB/T 35275 / CMS SignedData ({content_type})")]
        else:
            sm2_signature_der(value)
            form = "raw r||s" if raw else "DER"
            checks = [Check("format", PASSED, f"bare SM2 signature ({form}, {len(value)} bytes)")]
            check, cert = _bare_signature_check(value, signature_xml, method, signer_certs)
    except PARSE_ERRORS as exc:
        return [
            Check(
                "format",
                FAILED,
                f"SignedValue is neither SignedData nor an SM2 signature: {exc}",
                FORMAT_FAILURE,
            )
        ], {}
    checks.append(check)
    found: dict = {"signed_at": when} if when else {}
    if cert is not None:
        checks += certificate_checks(
            "signer_certificate", cert.der, when or datetime.now(UTC), "signing", cert_checker
        )
        found["signer"] = cert.summary()
    return checks, found


def _bare_signature_check(
    value: bytes, signature_xml: bytes, method: str | None, signer_certs: tuple[bytes, ...]
):
    if not signer_certs:
        return Check(
            "signature",
            INDETERMINATE,
            "a bare signature carries no certificate and none was "
            "supplied, so the signature value was not checked",
            NO_SIGNING_CERTIFICATE_FOUND,
        ), None
    for der in signer_certs:
        try:
            cert = load_certificate(der)
        except PARSE_ERRORS:
            continue
        check = signature_check("signature", cert, method or SM3_WITH_SM2, signature_xml, value)
        if check.result == PASSED:
            return check, cert
    return Check(
        "signature",
        INDETERMINATE,
        f"none of the {len(signer_certs)} supplied certificate(s) verifies the signature over Signature.xml",
        NO_SIGNING_CERTIFICATE_FOUND,
    ), None
