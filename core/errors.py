"""Domain errors. Each kind maps to one HTTP status and one problem type in app/."""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    INVALID_INPUT = "invalid-input"  # 400/422: the request itself is wrong
    UNAUTHENTICATED = "unauthenticated"  # 401
    FORBIDDEN = "forbidden"  # 403
    NOT_FOUND = "not-found"  # 404
    CONFLICT = "conflict"  # 409: valid request, state forbids it
    GONE = "gone"  # 410: expired shares and the like
    TOO_LARGE = "too-large"  # 413
    UNPROCESSABLE = "unprocessable"  # 422: well-formed, but the document lacks what it asks for
    UNSUPPORTED_MEDIA = "unsupported-media"  # 415
    UNAVAILABLE = "unavailable"  # 503: a dependency is down


class ErrorCode(StrEnum):
    """Every problem code the service answers with (the ``code`` of a DomainError and the last part
    of its RFC 9457 problem type ``urn:longtrust:problem:<code>``); each is described in docs/errors.md."""

    ALGORITHM = "algorithm"
    ALGORITHM_NOT_SIGNED = "algorithm-not-signed"
    ALREADY_DISABLED = "already-disabled"
    ALREADY_REVOKED = "already-revoked"
    BAD_ALG = "badAlg"
    BAD_BACKUP = "bad-backup"
    BAD_CERTIFICATE = "bad-certificate"
    BAD_CHECKPOINT = "bad-checkpoint"
    BAD_CSR = "bad-csr"
    BAD_CSR_SIGNATURE = "bad-csr-signature"
    BAD_CURSOR = "bad-cursor"
    BAD_DATA_FORMAT = "badDataFormat"
    BAD_IDENTIFIER = "bad-identifier"
    BAD_INDEX = "bad-index"
    BAD_ISSUER_CODE = "bad-issuer-code"
    BAD_KEY = "bad-key"
    BAD_LIMIT = "bad-limit"
    BAD_REASON = "bad-reason"
    BAD_REGION_CODE = "bad-region-code"
    BAD_REGION_NAME = "bad-region-name"
    BAD_REQUEST = "bad-request"
    BAD_SCHEMA = "bad-schema"
    BAD_SERIAL = "bad-serial"
    BAD_TREE_SIZE = "bad-tree-size"
    BAD_TRUST_LIST = "bad-trust-list"
    BAD_TYPE_CODE = "bad-type-code"
    BASE64 = "base64"
    BATCH_SIZE = "batch-size"
    CA_EXISTS = "ca-exists"
    CA_REVOKED = "ca-revoked"
    CA_SPEC = "ca-spec"
    CHECKPOINT_INCONSISTENT = "checkpoint-inconsistent"
    CHECKPOINT_OLDER = "checkpoint-older"
    CLIENT_CERTIFICATE = "client-certificate"
    CLIENT_CERTIFICATE_BOUND = "client-certificate-bound"
    CONFLICT = "conflict"
    CREDIT_CODE = "credit-code"
    CSV = "csv"
    DATABASE = "database"
    DATA_INVALID = "data-invalid"
    DECIDED = "decided"
    DOCMDP = "docmdp"
    EMPTY = "empty"
    ENVELOPE_KEY = "envelope-key"
    ESCROW_UNREADABLE = "escrow-unreadable"
    ES_ID = "es-id"
    EXPIRY = "expiry"
    FIELDMDP = "fieldmdp"
    FIELD_NOT_FOUND = "field-not-found"
    FIELD_SIGNED = "field-signed"
    FILE = "file"
    FORBIDDEN = "forbidden"
    FOREIGN_ISSUER_CODE = "foreign-issuer-code"
    GONE = "gone"
    HOLDER = "holder"
    HOLDER_ID_NUMBER = "holder-id-number"
    HOLDER_ID_TYPE = "holder-id-type"
    HOLDER_KIND = "holder-kind"
    HOLDER_NAME = "holder-name"
    HSM_UNSUPPORTED = "hsm-unsupported"
    HUB_UNAVAILABLE = "hub-unavailable"
    IDEMPOTENCY_KEY_REUSED = "idempotency-key-reused"
    IMAGE = "image"
    INVALID_INPUT = "invalid-input"
    INVALID_OFD = "invalid-ofd"
    INVALID_PDF = "invalid-pdf"
    INVALID_SEAL = "invalid-seal"
    INVALID_STAMP = "invalid-stamp"
    ISSUER_CODE_BOUND = "issuer-code-bound"
    JSON = "json"
    JSON_DEPTH = "json-depth"
    KEYWORD_NOT_FOUND = "keyword-not-found"
    KEY_DISABLED = "key-disabled"
    KEY_POLICY = "key-policy"
    KEY_REUSE = "key-reuse"
    KIND = "kind"
    KMC_ALGORITHM = "kmc-algorithm"
    KMC_KEY = "kmc-key"
    LEVEL = "level"
    LICENSE_CHANGED = "license-changed"
    LICENSE_EXPIRED = "license-expired"
    LICENSE_REVOKED = "license-revoked"
    LINT = "lint"
    LONG_AUDIENCE = "long-audience"
    LONG_HOLDER_ID = "long-holder-id"
    LONG_IDEMPOTENCY_KEY = "long-idempotency-key"
    LONG_NAME = "long-name"
    LONG_REASON = "long-reason"
    LONG_USE_CAUSE = "long-use-cause"
    MEDIA_TYPE = "media-type"
    MISSING_AUDIENCE = "missing-audience"
    MISSING_HOLDER_ID = "missing-holder-id"
    MISSING_IDEMPOTENCY_KEY = "missing-idempotency-key"
    MISSING_NAME = "missing-name"
    MISSING_REASON = "missing-reason"
    MISSING_USE_CAUSE = "missing-use-cause"
    NOT_EMPTY = "not-empty"
    NOT_FOUND = "not-found"
    NOT_READY = "not-ready"
    NOT_SIGNING = "not-signing"
    NO_BACKUP = "no-backup"
    NO_CHANGE = "no-change"
    NO_CJK_FONT = "no-cjk-font"
    NO_HSM = "no-hsm"
    NO_PAIR = "no-pair"
    NO_PG_DUMP = "no-pg-dump"
    NO_SEAL_MAKER = "no-seal-maker"
    OFD_TOO_LARGE = "ofd-too-large"
    OFF_PAGE = "off-page"
    PAGE_OUT_OF_RANGE = "page-out-of-range"
    PDF_LIMITS = "pdf-limits"
    PEM = "pem"
    PLACEMENTS = "placements"
    PROPERTY_INFO = "property-info"
    RATE_LIMITED = "rate-limited"
    RECIPIENT_KEY = "recipient-key"
    RECOVERY_JUSTIFICATION = "recovery-justification"
    REGION_EXISTS = "region-exists"
    REQUEST_EXPIRED = "request-expired"
    RETRY = "retry"
    ROOT = "root"
    SEAL = "seal"
    SEAL_EXPIRED = "seal-expired"
    SEAL_NAME = "seal-name"
    SEAL_REVOKED = "seal-revoked"
    SEAL_SIZE = "seal-size"
    SEAL_SUSPENDED = "seal-suspended"
    SEAL_TEMPLATE = "seal-template"
    SEAL_TEXT = "seal-text"
    SEAL_TYPE = "seal-type"
    SERIAL_COLLISION = "serial-collision"
    SHARE_EXPIRED = "share-expired"
    SHARE_EXPIRY = "share-expiry"
    SHARE_WITHDRAWN = "share-withdrawn"
    SIZE = "size"
    STATUS = "status"
    SUBJECT = "subject"
    TOKEN_REVOKED = "token-revoked"
    TOO_LARGE = "too-large"
    TOO_MANY_FIELDS = "too-many-fields"
    TRUST_LIST = "trust-list"
    TYPE_EXISTS = "type-exists"
    UNACCEPTED_EXTENSION = "unacceptedExtension"
    UNACCEPTED_POLICY = "unacceptedPolicy"
    UNAUTHENTICATED = "unauthenticated"
    UNAVAILABLE = "unavailable"
    UNKNOWN_BACKEND = "unknown-backend"
    UNKNOWN_FORMAT = "unknown-format"
    UNKNOWN_KEY_TYPE = "unknown-key-type"
    UNKNOWN_OPERATION = "unknown-operation"
    UNKNOWN_PROFILE = "unknown-profile"
    UNKNOWN_RECIPIENT = "unknown-recipient"
    UNKNOWN_ROLE = "unknown-role"
    UNKNOWN_TOKEN = "unknown-token"
    UNPROCESSABLE = "unprocessable"
    UNSUPPORTED_MEDIA = "unsupported-media"
    VALIDATION = "validation"
    VALIDITY = "validity"
    VERSION_EXHAUSTED = "version-exhausted"


# A kind whose name is not its title: 415 answers are titled as the framework's own (RFC 9110's
# reason phrase), so that one problem type has one title (RFC 9457 3.1.3).
_TITLES = {ErrorKind.UNSUPPORTED_MEDIA: "unsupported media type"}


class DomainError(Exception):
    """An expected failure with a stable kind, a short title and a detail for the caller."""

    def __init__(
        self, kind: ErrorKind, detail: str, *, title: str | None = None, code: ErrorCode | None = None
    ):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.title = title or _TITLES.get(kind) or kind.value.replace("-", " ")
        self.code = ErrorCode(code or kind.value)


def invalid(detail: str, code: ErrorCode = ErrorCode.INVALID_INPUT) -> DomainError:
    return DomainError(ErrorKind.INVALID_INPUT, detail, code=code)


def not_found(detail: str) -> DomainError:
    return DomainError(ErrorKind.NOT_FOUND, detail)


def conflict(detail: str, code: ErrorCode = ErrorCode.CONFLICT) -> DomainError:
    return DomainError(ErrorKind.CONFLICT, detail, code=code)


def forbidden(detail: str) -> DomainError:
    return DomainError(ErrorKind.FORBIDDEN, detail)


def media_type(content_type: str | None) -> str:
    """The media type of a ``Content-Type`` value (RFC 9110 §8.3): ``type/subtype`` in lower case,
    without parameters; "" when there is none."""
    return (content_type or "").split(";")[0].strip().lower()


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header; 401 DomainError without one."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthenticated("send Authorization: Bearer <token>")
    return token.strip()


def unauthenticated(detail: str) -> DomainError:
    return DomainError(ErrorKind.UNAUTHENTICATED, detail, code=ErrorCode.UNAUTHENTICATED)
