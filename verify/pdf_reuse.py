"""What the signatures of one PDF share while it is verified, so that each further signature costs little.

- A certificate path that pyHanko validated for a signer certificate, in one ValidationContext (one
  validation time of one file) and for one key usage, serves that file's other signatures by the same
  signer: ``validate_cert_usage`` is asked once per (signer certificate, validation time, usage).
  Only a path that passed is reused. Adding certificates to a context (the next signature's CMS
  certificates) cannot make such a path fail, while a failure could turn into a success, so failures
  are worked out again each time.
- The certificates of a signature's CMS (the signer's certificate found and checked against its
  signing-certificate attribute, ETSI EN 319 102-1 5.2.3.4) are extracted once per SignedData, not
  once by the CMS validation and again by the PDF signature object, and once per content: signatures
  whose certificates, signer identifier and signing-certificate attribute are the same bytes share
  the result (a failure is worked out again each time).

- The digests of the signed byte ranges are computed in one pass over the file (``prime_digests``):
  a revision's first range is a prefix of the next revision's, so one running hash per algorithm
  goes through the file once, and each signature's digest is a copy of it at the end of its first
  range, continued over its second range (pyHanko reads the whole range again for each signature).

- Across requests, a path that passed is also kept by the process (``PATHS``, bounded), keyed by what
  decides it: the signer certificate, the usage, the PKIX parameters and the context's trust
  material fingerprint (``register``: trust anchors, CRLs and OCSP responses by digest, including the
  document's DSS, and the validation time to the second; contexts that may fetch revocation data
  have none and are never shared). A kept path serves another document only if that document's
  context holds every certificate of the path itself, so a verdict never rests on certificates that
  only an earlier document carried. A new CRL or trust anchor (the truth version moving on) is a
  new fingerprint, so nothing validated under the old material is used under the new.

The first two live in a ``FileScope`` made for one file (``scope()``); outside one, pyHanko works as it does.
The names pyHanko looks these functions up by are wrapped by ``install()`` (idempotent).
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from pyhanko.sign.general import get_pyca_cryptography_hash
from pyhanko.sign.validation import generic_cms
from pyhanko.sign.validation.generic_cms import CertvalidatorOperationResult

_library_extract = generic_cms.extract_certs_for_validation
_library_usage = generic_cms.validate_cert_usage


@dataclasses.dataclass
class FileScope:
    """One file's shared results: validated paths by (context, certificate DER, usage, PKIX
    parameters), and CMS certificate extraction by SignedData object."""

    paths: dict[tuple, tuple[object, object]] = dataclasses.field(default_factory=dict)
    fingerprints: dict[int, tuple[object, bytes]] = dataclasses.field(default_factory=dict)
    cert_info: dict[int, tuple[object, object]] = dataclasses.field(default_factory=dict)
    cert_info_by_content: dict[tuple[bytes, ...], object] = dataclasses.field(default_factory=dict)


_SCOPE: ContextVar[FileScope | None] = ContextVar("pdf_file_scope", default=None)


class ProcessPaths:
    """Validated paths kept across files: at most ``size``, the least recently used dropped first."""

    def __init__(self, size: int = 4096):
        self.size = size
        self._paths: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple):
        with self._lock:
            path = self._paths.get(key)
            if path is not None:
                self._paths.move_to_end(key)
            return path

    def put(self, key: tuple, path) -> None:
        with self._lock:
            self._paths[key] = path
            self._paths.move_to_end(key)
            while len(self._paths) > self.size:
                self._paths.popitem(last=False)


PATHS = ProcessPaths()


def register(context, fingerprint: bytes) -> None:
    """Within a file scope: ``context``'s trust material is ``fingerprint`` (see the module's text), so
    paths validated in it may be kept by the process and may serve it."""
    shared = _SCOPE.get()
    if shared is not None:
        shared.fingerprints[id(context)] = (context, fingerprint)


@contextmanager
def scope() -> Iterator[FileScope]:
    """A fresh FileScope for the verification of one file, in force until the block ends."""
    shared = FileScope()
    token = _SCOPE.set(shared)
    try:
        yield shared
    finally:
        _SCOPE.reset(token)


def extract_certs_for_validation(signed_data):
    """pyHanko's ``extract_certs_for_validation``, once per SignedData and once per content within a
    file scope (the same result, or the library's own SignatureValidationError)."""
    shared = _SCOPE.get()
    if shared is None:
        return _library_extract(signed_data)
    found = shared.cert_info.get(id(signed_data))
    if found is None or found[0] is not signed_data:
        content = _cert_content(signed_data)
        info = shared.cert_info_by_content.get(content) if content is not None else None
        if info is None:
            info = _library_extract(signed_data)  # (errors are raised, not kept)
            if content is not None:
                shared.cert_info_by_content[content] = info
        found = shared.cert_info[id(signed_data)] = (signed_data, info)
    return found[1]


def _cert_content(signed_data) -> tuple[bytes, ...] | None:
    """What pyHanko's certificate extraction reads, as bytes: the certificates, the signer identifier
    and the signing-certificate attribute; None when it cannot be read (pyHanko then says why)."""
    try:
        (signer_info,) = signed_data["signer_infos"]
        attr = generic_cms.get_signing_cert_attr(signer_info["signed_attrs"])
        return (
            signed_data["certificates"].dump(),
            signer_info["sid"].dump(),
            b"" if attr is None else attr.dump(),
        )
    except Exception:  # noqa: BLE001  (left to pyHanko's own reading and errors)
        return None


async def validate_cert_usage(
    cert, validation_context, key_usage_settings, paths, pkix_validation_params=None
):
    """pyHanko's ``validate_cert_usage``; within a file scope, a path that passed for this certificate,
    context and usage is returned again without validating (the lazy ``paths`` iterator is then not
    started)."""
    shared = _SCOPE.get()
    args = (cert, validation_context, key_usage_settings, paths, pkix_validation_params)
    if shared is None:
        return await _library_usage(*args)
    asked = (cert.dump(), _usage_key(key_usage_settings), repr(pkix_validation_params))
    key = (id(validation_context), *asked)
    found = shared.paths.get(key)
    if found is not None and found[0] is validation_context:
        return CertvalidatorOperationResult(success_result=found[1])
    registered = shared.fingerprints.get(id(validation_context))
    kept = (registered[1], *asked) if registered is not None and registered[0] is validation_context else None
    path = PATHS.get(kept) if kept is not None else None
    if path is not None and _holds(validation_context, path, asked[0]):
        shared.paths[key] = (validation_context, path)
        return CertvalidatorOperationResult(success_result=path)
    result = await _library_usage(*args)
    if result.success_result is not None:
        shared.paths[key] = (validation_context, result.success_result)
        if kept is not None and _parsed_through(result.success_result):
            PATHS.put(kept, result.success_result)
    return result


def _parsed_through(path) -> bool:
    """Parse every certificate of ``path`` through; False if one cannot be (then it is not kept).
    asn1crypto parses on first access, filling a list in place: a path that other threads read must
    hold nothing left to parse."""
    try:
        for cert in path.iter_certs(include_root=True):
            cert.native  # noqa: B018
    except (ValueError, TypeError, KeyError):
        return False
    return True


def _holds(context, path, leaf: bytes) -> bool:
    """Whether every certificate of ``path`` between its trust anchor and ``leaf`` (DER, the
    certificate validated) is in ``context``'s registry."""
    registry = context.certificate_registry
    for cert in path.iter_certs(include_root=False):
        der = cert.dump()
        if der == leaf:
            continue
        held = registry.retrieve_by_issuer_serial(cert.issuer_serial)
        if held is None or held.dump() != der:
            return False
    return True


def _usage_key(settings) -> tuple:
    """KeyUsageConstraints as a hashable value (its fields hold sets)."""
    return tuple(
        (f.name, frozenset(v) if isinstance(v, set | frozenset) else v)
        for f in dataclasses.fields(settings)
        for v in [getattr(settings, f.name)]
    )


def install() -> None:
    """Route pyHanko's CMS validation through the file-scoped versions above (idempotent)."""
    generic_cms.extract_certs_for_validation = extract_certs_for_validation
    generic_cms.validate_cert_usage = validate_cert_usage


def prime_digests(data: bytes, signatures) -> None:
    """Sets each signature's byte range digest (pyHanko's ``EmbeddedPdfSignature.compute_digest`` cache,
    for its ``external_md_algorithm``) from one pass over ``data`` per digest algorithm. Byte ranges
    that are not two ranges from the start of the file, within it, are left to pyHanko."""
    by_algorithm: dict[str, list] = {}
    for sig in signatures:
        ranges = _ranges(sig.byte_range, len(data))
        if ranges is not None:
            by_algorithm.setdefault(sig.external_md_algorithm, []).append((ranges, sig))
    view = memoryview(data)
    for algorithm, found in by_algorithm.items():
        try:  # an unknown name has no class in cryptography's hashes; a known one may lack a backend
            running = hashes.Hash(get_pyca_cryptography_hash(algorithm))
        except (AttributeError, UnsupportedAlgorithm):
            continue  # (pyHanko reports what it cannot compute)
        done = 0
        for (first, start, length), sig in sorted(found, key=lambda item: item[0][0]):
            running.update(view[done:first])
            done = first
            digest = running.copy()
            digest.update(view[start : start + length])
            sig.external_digests[algorithm] = digest.finalize()


def _ranges(byte_range, size: int) -> tuple[int, int, int] | None:
    """(length of the first range, start and length of the second) of a /ByteRange [0 a b c] inside a
    file of ``size`` bytes, else None."""
    values = list(byte_range) if isinstance(byte_range, list) else []
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return None
    if len(values) != 4 or values[0] != 0 or min(values) < 0:
        return None
    _, first, start, length = values
    if first > size or start + length > size:
        return None
    return first, start, length
