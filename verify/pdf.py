"""Verification of signed PDFs (PAdES and CMS seals, document time stamps) with pyHanko, as one Report.

Every signature field pyHanko can read (``/Sig`` and ``/DocTimeStamp``) is validated with
``async_validate_pdf_signature`` / ``async_validate_pdf_timestamp`` and a ValidationContext made of
the caller's trust anchors, certificates, CRLs and OCSP responses plus the document's DSS (so
B-LT / B-LTA documents validate offline), with the SM2-aware validator and algorithm allow-list
(``verify.sm2_validation``); other regions' signers have their revocation data fetched under the
fetch policy (``verify.fetching``). Checks are named ``SignatureN: <check>`` in document
order: format, integrity, signature, certificate chain, coverage and modifications, time stamp, seal.

Times. Signatures are processed from the last to the first. A document time stamp that passes is
proof of existence (POE) for everything before it: earlier document and signature time stamps are
validated at its genTime (the PAdES-LTA chain), and a signature without its own time stamp is
validated at it. A signature with a signature time stamp is validated at the token's genTime,
otherwise at the POE or now. Past validation uses revocation data retroactively (a CRL issued later
tells the status at that time). A revoked signer certificate is REVOKED (failed) when revoked at or
before the signing time (trusted time stamp, else the signer's /M claim), otherwise
REVOKED_NO_POE (indeterminate). As in ``verify.certificates``, certvalidator consults revocation data
('hard-fail' once any CRL/OCSP is at hand) only for certificates that declare a CRL distribution
point or an OCSP responder.

Reading. Files are read as forgiving readers do: pyHanko's non-strict reader (hybrid-reference files,
shrinking xref sections, missing objects, ``/Encrypt null``); what a strict reading refuses becomes a
warning check. A file no reader can open is checked signature by signature from each /ByteRange
(integrity, signature, chain; changes cannot be analysed). Encrypted files are read when the user
password is empty, otherwise INDETERMINATE. SubFilters: adbe.pkcs7.detached, ETSI.CAdES.detached,
adbe.pkcs7.sha1 (SHA-1 of the byte range encapsulated and signed) and ETSI.RFC3161 document time
stamps; any other is INDETERMINATE. Verdicts follow docs/indications.md.

Modifications after a signature: pyHanko's difference analysis (``DIFF_POLICY``: its default rules plus
comments and Acrobat's named annotation appearances) must find nothing beyond LTA updates, form filling
or annotations, within the DocMDP permissions. A change that breaks the signature's DocMDP or FieldMDP
rule is TOTAL_FAILED (SIG_CONSTRAINTS_FAILURE); without such rules it is INDETERMINATE with the same
sub-indication and the change named. The analysis is made once per file (``_FileChanges``): each
incremental update is compared with the revision before it, and a signature is judged by the updates
after it, so n signatures cost n comparisons, not n²/2 as with pyHanko's ``review_file``. The map of
the paths to every object that each comparison needs is made from the references each object version
holds, read once per file (``verify.pdf_paths``), and a historical object version is read once.
An update that only adds one signed signature field, as each stamp after the first writes, is judged
directly (``verify.pdf_added_field``), with the verdict pyHanko's ``apply`` gives it; every other
update, and every update while a DocMDP permission is in force, goes to pyHanko.

What a file's signatures share (``verify.pdf_reuse``): a certificate path that passed is validated
once per (signer certificate, validation time, usage), and kept by the process for other files with
the same trust material and validation second that hold the path's certificates themselves; a
signature's CMS certificates are extracted once; the signed byte ranges are digested in one pass over
the file. No result of a document is kept.

Seals: when the SignerInfo carries the unsigned attribute ``seal_attribute_oid`` (a GB/T 38540 /
GM/T 0031 SESeal, see ``seal_service.pdf``), the seal is parsed and verified at the trusted signing
time (else now) with the same trust inputs, and the CMS signer certificate must be one of the
seal's certificates: the attribute is not signed, so that binding is what ties the seal to the stamp.

Bounds. Input over ``max_bytes`` or past a parsing limit raises DomainError(too-large, HTTP 413); anything
else yields a Report. Classic xref tables' declared entry counts are summed before parsing
(``MAX_XREF_READS``), and the read calls while pyHanko parses the cross-reference data are budgeted too
(entries the sum misses).
pyHanko reads every cross-reference entry when it opens a file (about 4 µs per entry here: 0.4 s for
100,000 objects) and has no limit of its own, so ``/Size`` values are screened before parsing
(``MAX_OBJECTS``) and revisions after (``MAX_REVISIONS``); its default DecodeLimits (for untrusted
input) bound stream decompression. The difference analysis reviews the objects written in each
revision (10-20 µs per object here), so their total is capped (``MAX_DIFF_OBJECTS``): past the cap a
signature's modification check is INDETERMINATE instead.
Measured on a loaded 2-core machine: hostile 17-28 MB files at the limits take 2-6 s. More than
``max_signatures`` signature fields are refused.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO

from asn1crypto import cms, core, crl, ocsp, x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.crypt import AuthStatus, StandardSecurityHandler
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader
from pyhanko.sign.ades.report import AdESFailure
from pyhanko.sign.diff_analysis import (
    DEFAULT_DIFF_POLICY,
    CatalogModificationRule,
    DiffPolicy,
    DiffResult,
    ModificationLevel,
    QualifiedWhitelistRule,
    ReferenceUpdate,
    StandardDiffPolicy,
    SuspiciousModification,
)
from pyhanko.sign.diff_analysis.commons import compare_dicts, compare_key_refs
from pyhanko.sign.diff_analysis.constants import ROOT_EXEMPT_STRICT_COMPARISON
from pyhanko.sign.fields import FieldMDPSpec, MDPPerm, SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.validation import SignatureCoverageLevel
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import async_validate_cms_signature, async_validate_detached_cms
from pyhanko.sign.validation.pdf_embedded import (
    EmbeddedPdfSignature,
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext

from core.der import serial_hex
from core.errors import DomainError, ErrorCode, ErrorKind
from core.threads import run_sync
from verify import parse_speed, pdf_reuse
from verify.certificates import (
    ENCODING,
    LenientCertificate,
    lenient_names,
    make_cert_checker,
    readable_name,
)
from verify.fetching import fetcher_backend
from verify.pdf_added_field import AddedFields
from verify.pdf_paths import MappedResolver, ReferencePaths, remember_history
from verify.report import (
    FAILED,
    FORMAT_FAILURE,
    HASH_FAILURE,
    INDETERMINATE,
    NO_CERTIFICATE_CHAIN_FOUND,
    PASSED,
    REVOKED,
    REVOKED_NO_POE,
    SIG_CONSTRAINTS_FAILURE,
    SIG_CRYPTO_FAILURE,
    SIGNED_DATA_NOT_FOUND,
    SKIPPED,
    TOTAL_FAILED,
    TOTAL_PASSED,
    WARNING,
    Check,
    Report,
    SealInfo,
    SignerInfo,
)
from verify.ses import PARSE_ERRORS, digest, hash_algorithm, parse_seal, verify_seal
from verify.sm2_validation import SM2_CONTEXT_KWARGS

parse_speed.install()
pdf_reuse.install()

logger = logging.getLogger(__name__)

MAX_BYTES = 50 * 1024 * 1024
MAX_SIGNATURES = 50
MAX_OBJECTS = 120_000  # declared /Size of any cross-reference section
MAX_XREF_READS = 120_000  # reads while the cross-reference data is parsed (one per classic xref entry)
MAX_REVISIONS = 500
STRICT_DIAGNOSIS_ENTRIES = 20_000  # files up to this many xref entries are also read strictly, for warnings
MAX_DIFF_OBJECTS = 300_000  # objects written after signatures that the difference analysis may review
# What pyHanko raises on a malformed file (its own PdfError kinds, and Python's for broken values).
_READ_ERRORS = (PdfError, ValueError, TypeError, KeyError, IndexError, AttributeError)
ADBE_PKCS7_SHA1 = "/adbe.pkcs7.sha1"
_SUBFILTERS = {s.value for s in SigSeedSubFilter} | {ADBE_PKCS7_SHA1}
_ALLOWED_CHANGES = (
    ModificationLevel.NONE,
    ModificationLevel.LTA_UPDATES,
    ModificationLevel.FORM_FILLING,
    ModificationLevel.ANNOTATIONS,
)
# Seal certificates carry digitalSignature and/or nonRepudiation (verify.certificates "seal-signer").
_KEY_USAGE = KeyUsageConstraints(key_usage={"digital_signature", "non_repudiation"})
# The entry count of each classic cross-reference table's first subsection (ISO 32000-1 7.5.4), summed
# before parsing; the read budget bounds what this misses (further subsections, odd spacing).
# (Not preceded by a letter, as "startxref" is: tested on each match, as a look-behind at the start of
# the pattern would stop the search for its literal and cost about 50x as much on a large file.)
_XREF_SUBSECTION = re.compile(rb"xref\s+\d{1,20}\s+(\d{1,20})")
# "/Size 123", also with #-escaped name characters (/S#69ze is the same name).
_SIZE = re.compile(rb"/(?:S|#53)(?:i|#69)(?:z|#7[aA])(?:e|#65)[\s\x00]*(\d{1,20})")


async def averify_pdf(
    data: bytes,
    *,
    trust_anchors: Sequence[bytes],
    other_certs: Sequence[bytes] = (),
    crls: Sequence[bytes] = (),
    ocsps: Sequence[bytes] = (),
    fetch_revocation: bool = False,
    seal_attribute_oid: str | None = None,
    max_bytes: int = MAX_BYTES,
    max_signatures: int = MAX_SIGNATURES,
) -> Report:
    """Verify every signature and document time stamp in a PDF; see the module docstring.

    With ``fetch_revocation``, revocation data missing from the inputs and the DSS is fetched from
    the URLs in the certificates (other regions' signers)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        return _format_report(f"a PDF must be given as bytes, not {type(data).__name__}")
    if len(data) > max_bytes:
        raise DomainError(ErrorKind.TOO_LARGE, f"{len(data)} bytes is more than the {max_bytes}-byte limit")
    inputs = None
    try:
        inputs = _Inputs.build(trust_anchors, other_certs, crls, ocsps, fetch_revocation)
        with pdf_reuse.scope():
            return await _verify(bytes(data), inputs, seal_attribute_oid, max_signatures)
    except DomainError:
        raise
    except Exception as exc:  # hostile input gets a report, never a traceback
        logger.info("PDF verification stopped: %s", _describe(exc))
        return _format_report(f"the PDF cannot be processed: {type(exc).__name__}: {exc}")
    finally:
        if inputs is not None:
            await inputs.aclose()


def verify_pdf(data: bytes, **options) -> Report:
    """Synchronous `averify_pdf` with the same keyword options; safe to call inside a running event
    loop (it then uses a worker thread)."""
    return run_sync(lambda: averify_pdf(data, **options))


def _format_report(detail: str) -> Report:
    return Report.from_checks([Check("format", FAILED, detail, FORMAT_FAILURE)])


# --------------------------------------------------------------------------- changes after signing


def _new_objects(old: HistoricalResolver, new: HistoricalResolver, start, limit: int = 10_000):
    """References reachable from `start` through objects that are new since `old`'s revision (never
    through an object that existed when the signature was made)."""
    xrefs, todo, seen = new.reader.xrefs, [start], set()
    while todo and len(seen) < limit:
        value = todo.pop()
        if isinstance(value, generic.IndirectObject):
            ref = value.reference
            if ref in seen or xrefs.get_introducing_revision(ref) <= old.revision:
                continue
            seen.add(ref)
            yield ref
            value = new.get_object(ref)
        if isinstance(value, generic.DictionaryObject):
            todo.extend(value.raw_get(k) for k in value)
        elif isinstance(value, generic.ArrayObject):
            todo.extend(value.raw_get(i) for i in range(len(value)))


class AnnotationAppearanceNames(QualifiedWhitelistRule):
    """Named annotation appearances (the catalog's /Names /AP name tree, ISO 32000-1 7.7.4) that Adobe
    Acrobat adds when a comment is made: at annotation level, the /AP entry of /Names may appear or
    change, and only objects new since the signed revision may be reached through it; every other
    name tree must stay as signed."""

    def apply_qualified(self, old: HistoricalResolver, new: HistoricalResolver):
        if "/Names" not in new.root:
            return
        new_names = new.root["/Names"]
        old_names = old.root["/Names"] if "/Names" in old.root else generic.DictionaryObject()
        compare_dicts(old_names, new_names, frozenset({"/AP"}))
        level = ModificationLevel.ANNOTATIONS
        for ref in compare_key_refs("/Names", old, old.root, new.root):
            yield level, ReferenceUpdate(ref)
        for ref in compare_key_refs("/AP", old, old_names, new_names):
            yield level, ReferenceUpdate(ref)
        for ref in _new_objects(old, new, new_names.raw_get("/AP")):
            yield level, ReferenceUpdate(ref)


class AddedAnnotations(QualifiedWhitelistRule):
    """Comments added to pages (ISO 32000-1 12.5): a page may gain new, non-widget annotations at the end
    of its /Annots and nothing else; the annotations and their appearances must be new objects."""

    def apply_qualified(self, old: HistoricalResolver, new: HistoricalResolver):
        level = ModificationLevel.ANNOTATIONS
        for ref in new.explicit_refs_in_revision():
            if new.reader.xrefs.get_introducing_revision(ref) > old.revision:
                continue
            old_page, new_page = old.get_object(ref), new.get_object(ref)
            if not isinstance(old_page, generic.DictionaryObject) or old_page.get("/Type") != "/Page":
                continue
            compare_dicts(old_page, new_page, frozenset({"/Annots"}))
            old_annots = list(old_page.get("/Annots", generic.ArrayObject()))
            new_annots = list(new_page.get("/Annots", generic.ArrayObject()))
            added = new_annots[len(old_annots) :]
            if new_annots[: len(old_annots)] != old_annots or any(
                a.get_object().get("/Subtype") == "/Widget" for a in added
            ):
                continue  # not comments only: left for the other rules (and unexplained otherwise)
            yield level, ReferenceUpdate(ref)
            for ref_ in compare_key_refs("/Annots", old, old_page, new_page):
                yield level, ReferenceUpdate(ref_)
            for annotation in added:
                for ref_ in _new_objects(old, new, annotation):
                    yield level, ReferenceUpdate(ref_)


# pyHanko's default policy, with the catalog's /Names judged by AnnotationAppearanceNames.
DIFF_POLICY = StandardDiffPolicy(
    global_rules=[
        CatalogModificationRule(ignored_keys=ROOT_EXEMPT_STRICT_COMPARISON | {"/Names"}),
        AnnotationAppearanceNames(),
        AddedAnnotations(),
        *DEFAULT_DIFF_POLICY.global_rules[1:],
    ],
    form_rule=DEFAULT_DIFF_POLICY.form_rule,
)


# --------------------------------------------------------------------------- inputs


@dataclass
class _Inputs:
    """Trust anchors and validation data, parsed once; the DSS adds to the certificates and revinfo.

    One ValidationContext per validation time serves all of a file's signatures, so what it works out
    once (the trust anchors' registry, a CRL issuer's validated path) is reused. The certificates a
    signature's CMS carries then join the file's pool for building the other signatures' paths too,
    as EU DSS pools a document's certificate sources."""

    anchors: list[x509.Certificate]
    certs: list[x509.Certificate]
    crls: list[crl.CertificateList]
    ocsps: list[ocsp.OCSPResponse]
    fetch: bool = False
    problems: list[str] = field(default_factory=list)
    _contexts: dict[datetime | None, ValidationContext] = field(default_factory=dict)
    material: list[bytes] = field(default_factory=list)  # digests of the anchors, CRLs and OCSPs

    @classmethod
    def build(cls, anchors, certs, crls, ocsps, fetch: bool = False) -> _Inputs:
        inputs = cls([], [], [], [], fetch)
        for kind, items, target in (
            ("trust anchor", anchors, inputs.anchors),
            ("certificate", certs, inputs.certs),
            ("CRL", crls, inputs.crls),
            ("OCSP response", ocsps, inputs.ocsps),
        ):
            for der in items:
                try:
                    target.append(_given(kind, bytes(der)))
                except PARSE_ERRORS as exc:
                    inputs.problems.append(f"{kind} ignored: {exc}")
                    continue
                if kind != "certificate":
                    inputs.material.append(_given_digest(bytes(der)))
        return inputs

    def add_dss(self, reader: PdfFileReader) -> list[Check]:
        """Adds the /DSS certificates and revocation data; its arrays may be direct or indirect."""
        try:
            dss = reader.root.get("/DSS")
            if dss is None:
                return []
            dss = dss.get_object()
        except _READ_ERRORS as exc:
            return [Check("validation data", WARNING, f"the document security store is unreadable: {exc}")]
        found, problems = [], []
        for key, kind, target in (
            ("/Certs", "certificate", self.certs),
            ("/CRLs", "CRL", self.crls),
            ("/OCSPs", "OCSP response", self.ocsps),
        ):
            count = 0
            try:
                for ref in dss.get(key, generic.ArrayObject()).get_object():
                    data = ref.get_object().data
                    target.append(_load(kind, data))
                    if kind != "certificate":
                        self.material.append(hashlib.sha256(data).digest())
                    count += 1
            except (*_READ_ERRORS, *PARSE_ERRORS) as exc:
                problems.append(f"{key}: {_describe(exc)}")
            found.append(f"{count} {kind}(s)")
        checks = [Check("validation data", PASSED, "document security store (DSS): " + ", ".join(found))]
        if problems:
            detail = "unreadable DSS entries ignored: " + "; ".join(problems)
            checks.append(Check("validation data", WARNING, detail))
        return checks

    def context(self, moment: datetime | None) -> ValidationContext:
        """The file's ValidationContext for validation at ``moment`` (None: now), made at first use
        and shared by the file's signatures (closed by ``aclose``)."""
        if moment not in self._contexts:
            self._contexts[moment] = self._new_context(moment)
        return self._contexts[moment]

    async def aclose(self) -> None:
        """Closes the contexts made by ``context`` (and their revocation fetchers)."""
        contexts, self._contexts = list(self._contexts.values()), {}
        for context in contexts:
            await context.aclose()

    def _new_context(self, moment: datetime | None) -> ValidationContext:
        context = self._context(moment)
        if not self.fetch:  # fetched revocation data is not part of the fingerprint
            pdf_reuse.register(context, self._fingerprint(context, moment))
        return context

    def _fingerprint(self, context: ValidationContext, moment: datetime | None) -> bytes:
        """What decides a path's validation in ``context`` besides the certificates it is built from:
        trust anchors, CRLs and OCSP responses (by digest), whether the time was given, and the
        validation time to the second."""
        seconds = int(context.moment.timestamp())
        head = f"{moment is None}:{seconds}".encode()
        return hashlib.sha256(head + b"".join(sorted(self.material))).digest()

    def _context(self, moment: datetime | None) -> ValidationContext:
        return ValidationContext(
            trust_roots=list(self.anchors),
            other_certs=list(self.certs),
            crls=list(self.crls),
            ocsps=list(self.ocsps),
            moment=moment,
            retroactive_revinfo=moment is not None,
            allow_fetching=bool(self.fetch),
            fetcher_backend=fetcher_backend(self.fetch),
            revocation_mode="hard-fail" if self.crls or self.ocsps or self.fetch else "soft-fail",
            **SM2_CONTEXT_KWARGS,
        )

    def cert_checker(self, extra: Sequence[x509.Certificate]):
        return make_cert_checker(
            [c.dump() for c in self.anchors],
            [c.dump() for c in self.crls],
            [o.dump() for o in self.ocsps],
            [c.dump() for c in (*self.certs, *extra)],
            fetch_revocation=self.fetch,
        )


@functools.lru_cache(maxsize=1024)
def _given_digest(der: bytes) -> bytes:
    """SHA-256 of a caller's trust anchor, CRL or OCSP response, once per process (as ``_given``)."""
    return hashlib.sha256(der).digest()


@functools.lru_cache(maxsize=1024)
def _given(kind: str, der: bytes):
    """The caller's trust anchors, certificates, CRLs and OCSP responses, parsed once per process (the
    same CA certificates and CRLs come with every request; what path validation works out from them,
    such as key identifiers and a CRL's extensions, is kept with them). A document's own are not kept."""
    return _load(kind, der)


def _load(kind: str, der: bytes):
    if kind in ("trust anchor", "certificate"):
        value = x509.Certificate.load(der, strict=True)
        value.subject  # noqa: B018  (parse the parts path building needs now)
        value.public_key  # noqa: B018
    elif kind == "CRL":
        value = crl.CertificateList.load(der, strict=True)
        value.issuer  # noqa: B018
    else:
        value = ocsp.OCSPResponse.load(der, strict=True)
        value["response_status"].native  # noqa: B018
    return value


# --------------------------------------------------------------------------- document


class _ForgivingReader(PdfFileReader):
    """pyHanko's non-strict reader; ``/Encrypt null`` in a trailer is no encryption (ISO 32000-1 7.3.9:
    a dictionary entry whose value is null is the same as an absent entry). Its revisions share one
    map of the references each object version holds (``verify.pdf_paths``)."""

    def __init__(self, stream, strict: bool = True):
        self.reference_paths = ReferencePaths(self)
        self.opened = False  # its cross-reference data and trailers are read (they do not change then)
        self._encrypt_dict: tuple | None = None  # (the answer of ``encrypt_dict``,) once opened
        super().__init__(stream, strict=strict)

    def get_object(self, ref, revision=None, **options):
        """pyHanko's ``get_object``; a historical version (``revision``) of an unencrypted file is read
        once per file."""
        if revision is None or not self.plain:
            return super().get_object(ref, revision, **options)
        return self.reference_paths.read(ref, revision, **options)

    @property
    def plain(self) -> bool:
        """Not encrypted (``encrypt_dict``, known once the reader is opened)."""
        return not self.encrypt_dict

    def get_historical_resolver(self, revision: int) -> HistoricalResolver:
        """pyHanko's view of ``revision`` (made once), with the file's reference map."""
        resolver = self._historical_resolver_cache.get(revision)
        if resolver is None:
            resolver = self._historical_resolver_cache[revision] = MappedResolver(self, revision)
        return resolver

    def release(self) -> None:
        """Drops the objects read from the file and the revisions' views of them. They refer to the
        reader and it to them, so without this they wait for a garbage collection, which then walks
        every object a many-revision file made; released, they are freed as the verification ends."""
        for resolver in self._historical_resolver_cache.values():
            resolver.cache.clear()
            resolver._indirect_object_access_cache = None
        self._historical_resolver_cache.clear()
        self.resolved_objects.clear()
        self.reference_paths.release()

    @property
    def encrypt_dict(self):
        """pyHanko's ``encrypt_dict``, worked out once when the reader is opened (pyHanko asks for it on
        every object read, looking through every trailer); an error is raised each time."""
        if self._encrypt_dict is None:
            found = self._read_encrypt_dict()
            if not self.opened:
                return found
            self._encrypt_dict = (found,)
        return self._encrypt_dict[0]

    def _read_encrypt_dict(self):
        try:
            if isinstance(self.trailer.raw_get("/Encrypt"), generic.NullObject):
                return None
        except KeyError:
            return None
        return super().encrypt_dict


class _ReadBudget(BytesIO):
    """The input while its cross-reference data is read: pyHanko reads each classic xref entry with one
    ``read`` call, so counting calls bounds the entries parsed; past ``budget`` calls parsing stops.
    ``unbudgeted`` then restores BytesIO's own ``read`` (pyHanko reads objects a byte per call)."""

    def __init__(self, data: bytes, budget: int):
        super().__init__(data)
        self.budget, self.reads = budget, 0
        self.whole = data  # hex strings and tokens are read from it in one slice (verify/parse_speed.py)
        self.counting = True  # (the token shortcuts charge what pyHanko would read: ``charge``)
        self.read = self._counted_read  # an instance attribute, so that it can be dropped

    def _counted_read(self, size: int | None = -1) -> bytes:
        self.reads += 1
        if self.reads > self.budget:
            raise _ParseLimit(self.reads - 1)
        return BytesIO.read(self, size)

    @property
    def left(self) -> int:
        """The reads the budget has left."""
        return self.budget - self.reads

    def charge(self, reads: int) -> bool:
        """Counts ``reads`` read calls made at once; False (nothing counted) past the budget."""
        if self.reads + reads > self.budget:
            return False
        self.reads += reads
        return True

    def unbudgeted(self) -> None:
        del self.read
        self.counting = False


class _ParseLimit(Exception):
    def __init__(self, reads: int):
        super().__init__(reads)
        self.reads = reads


def _refuse(detail: str) -> DomainError:
    return DomainError(ErrorKind.TOO_LARGE, detail, code=ErrorCode.PDF_LIMITS)


def _read(data: bytes, strict: bool) -> PdfFileReader:
    """Open `data`; raises DomainError(too-large) when the cross-reference data exceeds the read budget."""
    stream = _ReadBudget(data, MAX_XREF_READS)
    try:
        reader = _ForgivingReader(stream, strict=strict)  # its one override is not used while opening
    except _ParseLimit as limit:
        raise _refuse(
            f"the cross-reference data needs more than {limit.reads} reads (limit {MAX_XREF_READS}); "
            "parsing stopped there"
        ) from None
    stream.unbudgeted()
    remember_history(reader.xrefs)
    reader.opened = True
    return reader


def _declared_entries(data: bytes) -> int:
    """The entries the classic cross-reference tables of ``data`` declare (``_XREF_SUBSECTION``)."""
    found = _XREF_SUBSECTION.finditer(data)
    return sum(int(m[1]) for m in found if not data[m.start() - 1 : m.start()].isalpha())


def _open(data: bytes) -> tuple[PdfFileReader | None, list[Check]]:
    """The forgiving reader and the format checks; (None, checks) when no reader can open the file."""
    if not data[:1024].lstrip().startswith(b"%PDF-"):
        return None, [Check("format", FAILED, "not a PDF (no %PDF- header)", FORMAT_FAILURE)]
    sizes = [int(m) for m in _SIZE.findall(data)]
    if sizes and max(sizes) > MAX_OBJECTS:
        raise _refuse(f"a cross-reference section declares {max(sizes)} objects (limit {MAX_OBJECTS})")
    entries = _declared_entries(data)
    if entries > MAX_XREF_READS:
        raise _refuse(f"{entries} cross-reference table entries (limit {MAX_XREF_READS}); not parsed")
    checks, reader = [], None
    try:
        if entries <= STRICT_DIAGNOSIS_ENTRIES:  # read strictly to name what is lenient
            reader = _read(data, strict=True)
            reader.strict = False  # it opened strictly, so it is used as it is: one parse
    except _READ_ERRORS as exc:
        checks.append(Check("file structure", WARNING, f"read leniently: {_describe(exc)}"))
    try:
        reader = reader or _read(data, strict=False)
        revisions, size = reader.xrefs.total_revisions, int(reader.trailer["/Size"])
    except _READ_ERRORS as exc:
        return None, [
            Check(
                "file structure",
                WARNING,
                f"unreadable ({_describe(exc)}); signatures are located by their /ByteRange",
            )
        ]
    if revisions > MAX_REVISIONS or size > MAX_OBJECTS:
        raise _refuse(
            f"{size} objects in {revisions} revisions exceeds the limits "
            f"({MAX_OBJECTS} objects, {MAX_REVISIONS} revisions)"
        )
    checks.insert(0, Check("format", PASSED, f"PDF with {revisions} revision(s), {size} object number(s)"))
    return reader, [*checks, *_decrypt(reader)]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _decrypt(reader: PdfFileReader) -> list[Check]:
    """Standard security handler with an empty user password: decrypted (a warning); else INDETERMINATE."""
    if not reader.encrypted:
        return []
    handler = reader.security_handler
    if isinstance(handler, StandardSecurityHandler) and reader.decrypt(b"").status != AuthStatus.FAILED:
        return [Check("encryption", WARNING, "encrypted with an empty user password; read decrypted")]
    return [
        Check(
            "encryption",
            INDETERMINATE,
            "encrypted with a user password or a certificate; the signatures cannot be read",
            SIGNED_DATA_NOT_FOUND,
        )
    ]


@dataclass
class _Entry:
    name: str
    sig: EmbeddedPdfSignature | None = None
    error: str | None = None
    unsupported: bool = False  # a kind not verified here (INDETERMINATE), not a broken one (FAILED)


def _signature_fields(reader: PdfFileReader, max_signatures: int) -> list[_Entry]:
    """Every filled signature field; unreadable ones and unknown SubFilters stay in as errors."""
    entries = []
    for name, value, field_ref in enumerate_sig_fields(reader, filled_status=True):
        if len(entries) == max_signatures:
            raise _refuse(f"more than {max_signatures} signatures")
        try:
            signature = value.get_object()
            subfilter, kind = signature.get("/SubFilter"), signature.get("/Type", "/Sig")
            if subfilter not in _SUBFILTERS or (subfilter == "/ETSI.RFC3161") != (kind == "/DocTimeStamp"):
                error = f"SubFilter {subfilter} in a {kind} dictionary is not supported (not verified)"
                entries.append(_Entry(name, error=error, unsupported=True))
            else:
                entries.append(_Entry(name, sig=EmbeddedPdfSignature(reader, field_ref, name)))
        except _READ_ERRORS as exc:
            entries.append(_Entry(name, error=f"unreadable signature: {_describe(exc)}"))
    order = {id(e): (e.sig is None, e.sig.signed_revision if e.sig else 0) for e in entries}
    return sorted(entries, key=lambda e: order[id(e)])


async def _verify(data: bytes, inputs: _Inputs, seal_oid: str | None, max_signatures: int) -> Report:
    reader, checks = _open(data)
    if inputs.problems:
        checks.append(Check("validation inputs", INDETERMINATE, "; ".join(inputs.problems)))
    if reader is None:
        return await _verify_byte_ranges(data, inputs, checks, max_signatures)
    try:
        return await _verify_read(data, reader, checks, inputs, seal_oid, max_signatures)
    finally:
        reader.release()


async def _verify_read(data: bytes, reader, checks: list[Check], inputs: _Inputs, seal_oid, max_signatures):
    if any(c.result == INDETERMINATE for c in checks if c.name == "encryption"):
        return Report.from_checks(checks)
    checks += inputs.add_dss(reader)
    entries = _signature_fields(reader, max_signatures)
    if not entries:
        checks.append(Check("signatures", FAILED, "the PDF has no signature", FORMAT_FAILURE))
        return Report.from_checks(checks)
    pdf_reuse.prime_digests(data, [e.sig for e in entries if e.sig is not None])
    results: list[_Result] = [None] * len(entries)
    poe, changes = None, _FileChanges(reader)
    for index in reversed(range(len(entries))):
        results[index], poe = await _verify_entry(entries[index], inputs, poe, seal_oid, changes)
    return _combine(checks, results)


def _combine(checks: list[Check], results: list[_Result]) -> Report:
    for index, result in enumerate(results, start=1):
        checks += [c.renamed(f"Signature{index}: ") for c in result.checks]
    first = next((r for r in results if r.signer), results[0])
    seals = [r.seal for r in results if r.seal]
    return Report.from_checks(
        checks, signed_at=first.signed_at, signer=first.signer, seal=first.seal, seals=seals
    )


# --------------------------------------------------------------------------- unreadable structure

# A signature dictionary's /ByteRange; the gap between its two ranges is the /Contents value.
_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s*\]")


async def _verify_byte_ranges(data: bytes, inputs: _Inputs, checks: list[Check], max_signatures: int):
    """When no reader can open the file (its structure is broken), check each signature found by its
    /ByteRange as other validators do: integrity, signature and chain; changes cannot be analysed."""
    ranges = []
    for match in _BYTE_RANGE.finditer(data):
        if len(ranges) == max_signatures:
            raise _refuse(f"more than {max_signatures} signatures")
        ranges.append(tuple(int(v) for v in match.groups()))
    if not ranges:
        checks.append(Check("format", FAILED, "the PDF is unreadable and holds no signature", FORMAT_FAILURE))
        return Report.from_checks(checks)
    results = [_Result(await _byte_range_signature(data, r, inputs)) for r in ranges]
    return _combine(checks, results)


async def _byte_range_signature(data: bytes, byte_range: tuple[int, ...], inputs: _Inputs) -> list[Check]:
    start, first, second, length = byte_range
    described = f"signature with /ByteRange {list(byte_range)} found in a file of {len(data)} bytes"
    if start != 0 or second < first or second + length > len(data):
        return [
            Check("format", PASSED, described),
            Check(
                "integrity",
                FAILED,
                "the signed byte range does not fit the file: signed bytes were removed or added",
                HASH_FAILURE,
            ),
        ]
    try:
        hex_value = data[first:second].strip().removeprefix(b"<").removesuffix(b">")
        value = bytes.fromhex(hex_value.decode("ascii")).rstrip(b"\x00")
        signed_data = cms.ContentInfo.load(value)["content"]
        context = inputs.context(None)
        status = await async_validate_detached_cms(
            data[:first] + data[second : second + length],
            signed_data,
            signer_validation_context=context,
            key_usage_settings=_KEY_USAGE,
        )
    except SignatureValidationError as exc:
        return [Check("format", PASSED, described), _pyhanko_refusal(exc)]
    except _READ_ERRORS as exc:
        return [Check("format", INDETERMINATE, f"{described}; unreadable: {_describe(exc)}", FORMAT_FAILURE)]
    unknown = "the file structure is unreadable, so changes after signing cannot be analysed"
    return [
        Check("format", PASSED, described),
        _integrity(status),
        _crypto(status),
        _chain(status, None),
        Check("coverage and modifications", INDETERMINATE, unknown, SIG_CONSTRAINTS_FAILURE),
    ]


def _pyhanko_refusal(exc: SignatureValidationError) -> Check:
    """pyHanko's own verdict when it stops validating (e.g. no signer certificate in the CMS)."""
    indic = exc.ades_subindication
    result = FAILED if isinstance(indic, AdESFailure) else INDETERMINATE
    return Check("signature", result, exc.failure_message, indic.name)


# --------------------------------------------------------------------------- one signature


@dataclass
class _Result:
    checks: list[Check]
    signer: SignerInfo | None = None
    signed_at: datetime | None = None
    seal: SealInfo | None = None


class _FileChanges(DiffPolicy):
    """``DIFF_POLICY`` over one file, each incremental update analysed once for all its signatures.

    pyHanko's ``review_file`` compares the signed revision with every later one, again for each
    signature (quadratic in the revisions). Here revision i is compared with revision i - 1 by
    ``DIFF_POLICY.apply`` once per file and DocMDP permission in force (``apply`` judges the form
    changes by it), and a signature's result is derived from the revisions after it: the first
    SuspiciousModification, else the highest ModificationLevel and the changed fields. A FieldMDP
    lock is checked against those changed fields (the fields ``apply`` would refuse when locked).

    The objects the analysis reviews are budgeted (``MAX_DIFF_OBJECTS``), each revision charged once
    per permission: signatures are taken from the last to the first, and one whose unreviewed later
    revisions exceed what is left is not analysed (``take``)."""

    def __init__(self, reader: PdfFileReader, policy: StandardDiffPolicy = DIFF_POLICY):
        xrefs = reader.xrefs
        self.policy = policy
        self.revisions = xrefs.total_revisions
        self.written = [len(xrefs.explicit_refs_in_revision(r)) for r in range(self.revisions)]
        self._added_fields = AddedFields(reader)
        self.remaining = MAX_DIFF_OBJECTS
        self._charged: set[tuple[int, MDPPerm | None]] = set()
        self._steps: dict[tuple[int, MDPPerm | None], DiffResult | SuspiciousModification] = {}

    def take(self, sig: EmbeddedPdfSignature) -> int | None:
        """None when the analysis after ``sig``'s revision fits the budget (and is charged), else the
        number of objects it would review."""
        due = {(r, sig.docmdp_level) for r in range(sig.signed_revision + 1, self.revisions)} - self._charged
        cost = sum(self.written[r] for r, _ in due)
        if cost > self.remaining:
            return cost
        self.remaining -= cost
        self._charged |= due
        return None

    def apply(self, old, new, field_mdp_spec=None, doc_mdp=None) -> DiffResult:
        """``DIFF_POLICY.apply`` (the two revisions compared directly)."""
        return self.policy.apply(old, new, field_mdp_spec=field_mdp_spec, doc_mdp=doc_mdp)

    def review_file(
        self,
        reader,
        base_revision,
        field_mdp_spec: FieldMDPSpec | None = None,
        doc_mdp: MDPPerm | None = None,
    ) -> DiffResult | SuspiciousModification:
        """The changes after ``base_revision`` (an index or a HistoricalResolver), from the cached
        revision-to-revision steps."""
        base = base_revision if isinstance(base_revision, int) else base_revision.revision
        level, fields = ModificationLevel.NONE, set()
        for revision in range(base + 1, self.revisions):
            step = self._step(reader, revision, doc_mdp)
            if isinstance(step, SuspiciousModification):
                return step
            locked = sorted(
                f for f in step.changed_form_fields if field_mdp_spec and field_mdp_spec.is_locked(f)
            )
            if locked:
                return SuspiciousModification(
                    f"Revision {revision} changes the form field(s) {', '.join(locked)}, locked by FieldMDP."
                )
            level = max(level, step.modification_level)
            fields |= step.changed_form_fields
        return DiffResult(level, fields)

    def _step(self, reader, revision: int, doc_mdp: MDPPerm | None) -> DiffResult | SuspiciousModification:
        key = (revision, doc_mdp)
        if key not in self._steps and doc_mdp is None and reader.plain:
            found = self._added_fields.judge(revision)
            if found is not None:
                self._steps[key] = found
        if key not in self._steps:
            try:
                self._steps[key] = self.apply(
                    reader.get_historical_resolver(revision - 1),
                    reader.get_historical_resolver(revision),
                    doc_mdp=doc_mdp,
                )
            except SuspiciousModification as exc:
                self._steps[key] = exc
        return self._steps[key]


async def _verify_entry(
    entry: _Entry, inputs: _Inputs, poe: datetime | None, seal_oid: str | None, changes: _FileChanges
) -> tuple[_Result, datetime | None]:
    if entry.sig is None:
        result = INDETERMINATE if entry.unsupported else FAILED
        return _Result([Check("format", result, f"field {entry.name}: {entry.error}", FORMAT_FAILURE)]), poe
    sig = entry.sig
    kind = sig.sig_object_type
    described = (
        f"field {entry.name}: {kind} {sig.sig_object.get('/SubFilter')}, signed revision "
        f"{sig.signed_revision + 1} of {changes.revisions}"
    )
    quirks = _lenient_certificates(sig)
    try:
        over = changes.take(sig)
        if kind == "/DocTimeStamp":
            checks, poe = await _document_timestamp(sig, inputs, poe, changes, over)
            return _Result([Check("format", PASSED, described), *checks]), poe
        result = await _signature(sig, inputs, poe, seal_oid, changes, over)
    except SignatureValidationError as exc:
        return _Result([Check("format", PASSED, described), _pyhanko_refusal(exc)]), poe
    except Exception as exc:  # noqa: BLE001  (pyHanko's errors on one signature stay with it)
        logger.info("signature %s could not be validated: %s", entry.name, _describe(exc))
        detail = f"{described}; validation failed: {type(exc).__name__}: {exc}"
        return _Result([Check("format", FAILED, detail, FORMAT_FAILURE)]), poe
    result.checks[:0] = [Check("format", PASSED, described), *quirks]
    return result, poe


@functools.lru_cache(maxsize=4096)
def _name_text(kind: type, der: bytes) -> str:
    return readable_name(kind.load(der))


def _readable(name: x509.Name) -> str:
    """`readable_name`, worked out once per process for each distinct name (each signature shows its
    signer, issuer and chain)."""
    return _name_text(type(name), name.dump())


@functools.lru_cache(maxsize=4096)
def _lenient_parts(der: bytes) -> tuple[str, ...]:
    """`lenient_names` of a certificate's DER, worked out once per process (the same signer and CA
    certificates recur across documents)."""
    return tuple(lenient_names(x509.Certificate.load(der)))


def _lenient_certificates(sig: EmbeddedPdfSignature) -> list[Check]:
    """Certificates in the CMS whose names break DER string rules are read leniently (swapped for
    `LenientCertificate`s, same bytes) before validation; a warning reports it, the verdict is unchanged."""
    repaired = []
    try:
        choices = sig.signed_data["certificates"]
        for index, choice in enumerate(choices or ()):
            found = _lenient_parts(choice.chosen.dump()) if choice.name == "certificate" else ()
            if found:
                cert = LenientCertificate.load(choice.chosen.dump())
                choices[index] = cms.CertificateChoices(name="certificate", value=cert)
                repaired += [f"{readable_name(cert.subject)}: {part}" for part in found]
    except _READ_ERRORS:
        return []  # (the validation reports unreadable certificates itself)
    if not repaired:
        return []
    detail = "certificates read leniently, as OpenSSL does (names read as Latin-1): " + "; ".join(repaired)
    return [Check(ENCODING, WARNING, detail)]


async def _signature(
    sig: EmbeddedPdfSignature,
    inputs: _Inputs,
    poe: datetime | None,
    seal_oid: str | None,
    changes: _FileChanges,
    over_budget: int | None,
) -> _Result:
    claimed = _claimed_time(sig)
    tst_time = _tst_time(sig.signer_info)
    signer_context = inputs.context(tst_time or poe)
    ts_context = signer_context if tst_time is None else inputs.context(poe)
    if sig.sig_object.get("/SubFilter") == ADBE_PKCS7_SHA1:
        status, integrity = await _pkcs7_sha1(sig, signer_context, changes, over_budget)
    else:
        status = await async_validate_pdf_signature(
            sig,
            signer_validation_context=signer_context,
            ts_validation_context=ts_context,
            key_usage_settings=_KEY_USAGE,
            diff_policy=changes,
            skip_diff=over_budget is not None,
        )
        integrity = _integrity(status)
    ts = status.timestamp_validity
    trusted = ts.timestamp if ts is not None and ts.trusted else None
    cert = status.signing_cert
    checks = [
        integrity,
        _crypto(status),
        _chain(status, trusted or claimed),
        _coverage(status, over_budget, _locks(sig)),
        _time_stamp(ts, poe),
    ]
    seal_check, seal = _seal(sig, seal_oid, trusted or poe, inputs)
    checks.append(seal_check)
    signer = SignerInfo(_readable(cert.subject), serial_hex(cert.serial_number), _readable(cert.issuer))
    return _Result(checks, signer=signer, signed_at=trusted or claimed, seal=seal)


async def _document_timestamp(
    sig, inputs: _Inputs, poe: datetime | None, changes: _FileChanges, over_budget: int | None
):
    status = await async_validate_pdf_timestamp(
        sig, validation_context=inputs.context(poe), diff_policy=changes, skip_diff=over_budget is not None
    )
    checks = [
        _integrity(status),
        _crypto(status),
        _chain(status, status.timestamp),
        _coverage(status, over_budget, _locks(sig)),
    ]
    if all(c.result == PASSED for c in checks):
        checks.append(
            Check(
                "time stamp",
                PASSED,
                f"document time stamp at {status.timestamp.isoformat()}; "
                "proof of existence for everything before it",
            )
        )
        return checks, status.timestamp
    checks.append(Check("time stamp", SKIPPED, "the document time stamp did not pass; no proof of existence"))
    return checks, poe


async def _pkcs7_sha1(
    sig: EmbeddedPdfSignature, context: ValidationContext, changes: _FileChanges, over_budget: int | None
):
    """adbe.pkcs7.sha1 (ISO 32000-1 12.8.3.3.1): the CMS encapsulates SHA-1 of the byte range and signs
    that content, so the signature is checked over the content and the content against the file."""
    sig.compute_integrity_info(diff_policy=changes, skip_diff=over_budget is not None)
    status = await async_validate_cms_signature(
        sig.signed_data,
        status_cls=PdfSignatureStatus,
        validation_context=context,
        status_kwargs=sig.summarise_integrity_info(),
        key_usage_settings=_KEY_USAGE,
    )
    content = sig.signed_data["encap_content_info"]["content"].native
    if content != sig.compute_digest("sha1"):
        detail = "the SHA-1 digest in the signature does not match the signed byte range"
        return status, Check("integrity", FAILED, detail, HASH_FAILURE)
    return status, _integrity(status)


def _claimed_time(sig: EmbeddedPdfSignature) -> datetime | None:
    try:
        return sig.self_reported_timestamp
    except Exception:  # noqa: BLE001  (a malformed /M is just no claim)
        return None


def _tst_time(signer_info) -> datetime | None:
    """The genTime the signature time stamp claims (checked later by pyHanko), or None."""
    try:
        attrs = signer_info["unsigned_attrs"]
        if isinstance(attrs, core.Void):
            return None
        for attr in attrs:
            if attr["type"].native == "signature_time_stamp_token":
                info = attr["values"][0]["content"]["encap_content_info"]["content"].parsed
                return info["gen_time"].native
    except (ValueError, TypeError, KeyError, AttributeError, IndexError):
        return None
    return None


# --------------------------------------------------------------------------- checks


def _integrity(status) -> Check:
    algorithm = status.md_algorithm
    if status.intact:
        return Check("integrity", PASSED, f"the {algorithm} digest of the signed byte range matches")
    return Check(
        "integrity",
        FAILED,
        f"the {algorithm} digest of the signed byte range does not match (the signed bytes were changed)",
        HASH_FAILURE,
    )


def _crypto(status) -> Check:
    mechanism = status.pkcs7_signature_mechanism
    if status.valid:
        return Check("signature", PASSED, f"the {mechanism} signature verifies with the signer's key")
    return Check("signature", FAILED, f"the {mechanism} signature does not verify", SIG_CRYPTO_FAILURE)


def _chain(status, signing_time: datetime | None) -> Check:
    cert = status.signing_cert
    moment = status.validation_time.isoformat() if status.validation_time else "now"
    if not status.valid:
        return Check("certificate chain", SKIPPED, "not evaluated: the signature does not verify")
    path = status.validation_path
    indic = status.trust_problem_indic
    if indic is None and path is not None:
        certs = reversed(list(path.iter_certs(include_root=True)))
        names = " ← ".join(_readable(c.subject) for c in certs)
        return Check("certificate chain", PASSED, f"trusted at {moment}: {names}")
    revoked = status.revocation_details
    if revoked is not None:
        whose = "an issuing CA certificate" if revoked.ca_revoked else "the signer certificate"
        when = revoked.revocation_date
        detail = f"{whose} was revoked at {when.isoformat() if when else 'an unknown time'}"
        if when is not None and signing_time is not None and when <= signing_time:
            return Check(
                "certificate chain",
                FAILED,
                f"{detail}, before the signing time {signing_time.isoformat()}",
                REVOKED,
            )
        return Check(
            "certificate chain",
            INDETERMINATE,
            f"{detail}; no proof the signature existed before",
            REVOKED_NO_POE,
        )
    name = indic.name if indic is not None else NO_CERTIFICATE_CHAIN_FOUND
    result = FAILED if isinstance(indic, AdESFailure) else INDETERMINATE
    return Check(
        "certificate chain",
        result,
        f"no trusted path for {_readable(cert.subject)} at {moment} ({name})",
        name,
    )


def _coverage(status, over_budget: int | None, locks: str | None = None) -> Check:
    """Byte range coverage and the changes after it: a broken DocMDP/FieldMDP rule is a forbidden change
    (TOTAL_FAILED); without such rules, changes pyHanko cannot explain are reported (INDETERMINATE)."""
    coverage = status.coverage
    if coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return Check("coverage and modifications", PASSED, "the signature covers the entire file")
    if coverage != SignatureCoverageLevel.ENTIRE_REVISION:
        return Check(
            "coverage and modifications",
            FAILED,
            f"unusual byte range coverage ({coverage.name if coverage else 'unknown'})",
            SIG_CONSTRAINTS_FAILURE,
        )
    if over_budget is not None:
        return Check(
            "coverage and modifications",
            INDETERMINATE,
            f"covers its revision; the {over_budget} "
            f"objects written after it exceed the difference analysis budget ({MAX_DIFF_OBJECTS})",
        )
    level = status.modification_level
    if level in _ALLOWED_CHANGES and status.docmdp_ok is not False:
        return Check(
            "coverage and modifications",
            PASSED,
            f"covers its revision; later updates are {level.name.lower().replace('_', ' ')}",
        )
    reason = status.diff_result if isinstance(status.diff_result, SuspiciousModification) else None
    change = f"{level.name if level else 'unknown'}" + (f": {reason}" if reason else "")
    if locks:
        detail = f"later updates break the signature's {locks} rules ({change})"
        return Check("coverage and modifications", FAILED, detail, SIG_CONSTRAINTS_FAILURE)
    detail = f"later updates change more than form filling and annotations ({change}); no DocMDP or FieldMDP"
    return Check("coverage and modifications", INDETERMINATE, detail, SIG_CONSTRAINTS_FAILURE)


def _locks(sig: EmbeddedPdfSignature) -> str | None:
    """'DocMDP P=n' and/or 'FieldMDP' when the signature restricts later changes, else None."""
    found = [f"DocMDP P={sig.docmdp_level.value}"] if sig.docmdp_level is not None else []
    if sig.fieldmdp is not None:
        found.append("FieldMDP")
    return " and ".join(found) or None


def _time_stamp(ts, poe: datetime | None) -> Check:
    if ts is None:
        if poe is not None:
            return Check(
                "time stamp",
                PASSED,
                f"no signature time stamp; a later document time stamp proves existence at {poe.isoformat()}",
            )
        return Check("time stamp", SKIPPED, "no signature time stamp; /M is the signer's own claim")
    when = ts.timestamp.isoformat()
    tsa = _readable(ts.signing_cert.subject)
    if not ts.intact:
        return Check(
            "time stamp", FAILED, f"the time stamp ({when}) does not match the signature", HASH_FAILURE
        )
    if not ts.valid:
        return Check(
            "time stamp", FAILED, f"the time stamp signature by {tsa} does not verify", SIG_CRYPTO_FAILURE
        )
    if not ts.trusted:
        name = ts.trust_problem_indic.name if ts.trust_problem_indic else NO_CERTIFICATE_CHAIN_FOUND
        return Check(
            "time stamp", INDETERMINATE, f"time stamp at {when} by {tsa} is not trusted ({name})", name
        )
    return Check("time stamp", PASSED, f"signature time stamp at {when} by {tsa}; signing time from it")


def _seal(
    sig: EmbeddedPdfSignature, oid: str | None, at: datetime | None, inputs: _Inputs
) -> tuple[Check, SealInfo | None]:
    if oid is None:
        return Check("seal", SKIPPED, "no seal attribute OID configured"), None
    attrs = sig.signer_info["unsigned_attrs"]
    values = (
        []
        if isinstance(attrs, core.Void)
        else [v for a in attrs if a["type"].dotted == oid for v in a["values"]]
    )
    if not values:
        return Check("seal", SKIPPED, f"no seal attribute ({oid})"), None
    if len(values) > 1:
        return Check("seal", FAILED, f"{len(values)} values under {oid}; expected one", FORMAT_FAILURE), None
    try:
        seal = parse_seal(values[0].dump())
    except DomainError as exc:
        return Check("seal", FAILED, exc.detail, FORMAT_FAILURE), None
    summary = seal.summary()
    label = f"seal {seal.es_id} ({seal.name})"
    report = verify_seal(
        seal.raw, at=at or datetime.now(UTC), cert_checker=inputs.cert_checker(sig.other_embedded_certs)
    )
    if report.indication != TOTAL_PASSED:
        result = FAILED if report.indication == TOTAL_FAILED else INDETERMINATE
        bad = next(c for c in report.checks if c.result == result)
        return Check("seal", result, f"{label}: {bad.name}: {bad.detail}", report.sub_indication), summary
    if not _seal_names(seal, sig.signer_cert.dump()):
        return Check(
            "seal", FAILED, f"{label} does not list the PDF signer's certificate", SIG_CONSTRAINTS_FAILURE
        ), summary
    return Check("seal", PASSED, f"{label} verifies and lists the signer's certificate"), summary


def _seal_names(seal, cert_der: bytes) -> bool:
    if cert_der in seal.cert_list:
        return True
    for kind, value in seal.cert_digests:
        algorithm = hash_algorithm(kind)
        if algorithm is not None and digest(algorithm, cert_der) == value:
            return True
    return False


__all__ = [
    "MAX_BYTES",
    "MAX_DIFF_OBJECTS",
    "MAX_OBJECTS",
    "MAX_REVISIONS",
    "MAX_SIGNATURES",
    "averify_pdf",
    "verify_pdf",
]
