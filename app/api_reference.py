"""Summaries, descriptions and examples of the HTTP operations, merged into the OpenAPI document.

Keyed by (method, path template). A route's own docstring, when it has one, stays its description.
"""

from __future__ import annotations

ROLE = "Needs a bearer token whose role may `{}` (policies/access.yaml)."
PUBLIC = "Public: no token."
PAGED = (
    " Answers `{items, next_cursor}`; pass `next_cursor` back as `cursor` for the next page (it is opaque;"
    " null on the last page). `limit` is 1 to 500 (default 50). Filters match exactly and combine."
)


def _binary_body(*media_types: str) -> dict:
    """A required request body of any of ``media_types``, each raw bytes."""
    return {
        "required": True,
        "content": {m: {"schema": {"type": "string", "format": "binary"}} for m in media_types},
    }


PDF_BODY = _binary_body("application/pdf")
OFD_BODY = _binary_body("application/ofd", "application/zip")
USCC = "91110000100000000X"
CSR_EXAMPLE = {
    "csr_pem": "-----BEGIN CERTIFICATE REQUEST-----\nMIIB…\n-----END CERTIFICATE REQUEST-----\n",
    "profile": "organization-signing",
    "credit_code": USCC,
    "validity_days": 365,
}


def _op(summary: str, description: str, **extra) -> dict:
    return {"summary": summary, "description": description, **extra}


def _paged(summary: str, filters: str, action: str) -> dict:
    """A listing: its filters, the paging rules and the role it needs."""
    return _op(summary, filters + PAGED + " " + ROLE.format(action))


def _json_example(value: dict) -> dict:
    return {"requestBody": {"content": {"application/json": {"example": value}}}}


OPERATIONS: dict[tuple[str, str], dict] = {
    ("post", "/api/v1/tokens"): _op(
        "Create an API token",
        "Makes a bearer token for a role; the secret is shown once and stored only as a hash. "
        + ROLE.format("token.manage"),
        **_json_example({"role": "approval-system", "name": "行政审批系统", "seals": []}),
    ),
    ("post", "/api/v1/tokens/{token_id}/seals"): _op(
        "Grant a token a seal",
        "Lets the token stamp with the seal (approval systems stamp only with seals they were granted). "
        + ROLE.format("token.manage"),
    ),
    ("get", "/api/v1/cas"): _op(
        "List the CAs",
        "Every certificate authority of this deployment with its certificate. " + ROLE.format("ca.read"),
    ),
    ("post", "/api/v1/cas"): _op(
        "Request a new sub-CA (dual control)",
        "Answers 202 with a request id; a second, different security administrator approves it. "
        + ROLE.format("ca.manage"),
    ),
    ("post", "/api/v1/cas/{ca_id}/revoke"): _op(
        "Request a CA's revocation (dual control)",
        "Answers 202 with a request id; after approval the CA issues nothing more. "
        + ROLE.format("ca.manage"),
    ),
    ("post", "/api/v1/ca-requests/{request_id}/{decision}"): _op(
        "Approve or reject a CA request",
        "`decision` is `approve` or `reject`; the approver must differ from the requester. "
        + ROLE.format("ca.manage"),
    ),
    ("get", "/api/v1/certificates"): _paged(
        "List issued certificates",
        "Filters: `ca_id`, `status` (`intent`, `good`, `revoked`), `profile`, `credit_code`.",
        "ca.read",
    ),
    ("post", "/api/v1/cas/{ca_id}/certificates"): _op(
        "Issue a certificate",
        "Issues a certificate for a PKCS#10 request under a profile. Subject names come from the request "
        "and are checked against the profile; organisation profiles need `credit_code` (unified social "
        "credit code, check character verified), which the CA writes into the subject and the GM/T "
        "0015-2023 extension. " + ROLE.format("ca.issue"),
        **_json_example(CSR_EXAMPLE),
    ),
    ("get", "/api/v1/cas/{ca_id}/certificates/{serial}"): _op(
        "Get a certificate and its status",
        "`serial` is hexadecimal. " + ROLE.format("ca.read"),
    ),
    ("post", "/api/v1/cas/{ca_id}/certificates/{serial}/revoke"): _op(
        "Revoke a certificate",
        "`reason` is an RFC 5280 reason name (e.g. `keyCompromise`); a fresh CRL is published. "
        + ROLE.format("ca.revoke"),
        **_json_example({"reason": "keyCompromise"}),
    ),
    ("get", "/ca-certs/{name}"): _op(
        "A CA certificate",
        "`{ca_id}.pem` (PEM) or `.der`/`.crt`/`.cer` (DER); the AIA caIssuers URL. " + PUBLIC,
    ),
    ("get", "/crl/{name}"): _op(
        "A CA's current CRL", "`{ca_id}.crl`: DER, `application/pkix-crl` (RFC 5280). " + PUBLIC
    ),
    ("post", "/ocsp"): _op(
        "OCSP (POST)",
        "Body an `application/ocsp-request`; answers `application/ocsp-response` (RFC 6960). " + PUBLIC,
        requestBody=_binary_body("application/ocsp-request"),
    ),
    ("get", "/ocsp/{encoded}"): _op(
        "OCSP (GET)", "The base64 (URL-safe accepted) DER request in the path, RFC 6960 appendix A. " + PUBLIC
    ),
    ("post", "/tsa"): _op(
        "RFC 3161 time stamp",
        "Body an `application/timestamp-query`; the SM2 TSA answers SM3 imprints, the RSA TSA the others. "
        + PUBLIC,
        requestBody=_binary_body("application/timestamp-query"),
    ),
    ("post", "/api/v1/seals"): _op(
        "Make a seal",
        "Makes a GB/T 38540 seal (SES_Seal) for a body, signed by the seal maker, with a new signer key "
        "and certificate. `image_png_b64` is the seal image (PNG). " + ROLE.format("seal.manage"),
        **_json_example(
            {
                "name": "某局业务专用章",
                "owner_credit_code": USCC,
                "type": "organization",
                "algorithm": "sm2",
                "image_png_b64": "iVBORw0KGgo…",
            }
        ),
    ),
    ("get", "/api/v1/seals"): _paged(
        "List seals",
        "Filters: `owner_credit_code`, `status` (`active`, `suspended`, `revoked`), `algorithm`.",
        "seal.read",
    ),
    ("get", "/api/v1/seals/{seal_id}"): _op(
        "Get a seal", "The seal with its status. " + ROLE.format("seal.read")
    ),
    ("post", "/api/v1/seals/{seal_id}/suspend"): _op(
        "Suspend a seal", "Nothing stamps with it until it is resumed. " + ROLE.format("seal.manage")
    ),
    ("post", "/api/v1/seals/{seal_id}/resume"): _op("Resume a suspended seal", ROLE.format("seal.manage")),
    ("post", "/api/v1/seals/{seal_id}/revoke"): _op(
        "Revoke a seal", "Final; also revokes the seal's signer certificate. " + ROLE.format("seal.manage")
    ),
    ("post", "/api/v1/seals/{seal_id}/stamp/pdf"): _op(
        "Stamp a PDF",
        "Send the PDF as the body with `Content-Type: application/pdf`; the answer is the stamped PDF "
        "(PAdES, `ETSI.CAdES.detached`). `page` counts from 0 (the first page is 0). `x` and `y` are "
        "in PDF points (1/72 inch) and place the seal image's lower-left corner, measured from the "
        "page's bottom-left corner. `level` is `B-B`, `B-T` (with our time stamp), `B-LT` (with "
        "revocation data) or `B-LTA`. " + ROLE.format("seal.stamp") + " The token must be granted the seal.",
        requestBody=PDF_BODY,
    ),
    ("post", "/api/v1/seals/{seal_id}/stamp/data"): _op(
        "Stamp structured data",
        "Any JSON object; answers a GB/T 38540 SES_Signature over SM3 of its RFC 8785 canonical form. "
        + ROLE.format("seal.stamp"),
        **_json_example({"licence_no": "D1", "holder": "某公司"}),
    ),
    ("post", "/api/v1/verify/certificate"): _op(
        "Verify a certificate",
        "Path, validity and revocation against our and other regions' anchors. " + PUBLIC,
    ),
    ("post", "/api/v1/verify/seal"): _op(
        "Verify a seal or a stamp",
        "`{seal_der_b64}` for a seal, `{ses_signature_der_b64, data_b64?}` for a stamp. " + PUBLIC,
    ),
    ("post", "/api/v1/verify/pdf"): _op(
        "Verify a stamped PDF",
        "Body the PDF (`application/pdf`); a report for every signature. " + PUBLIC,
        requestBody=PDF_BODY,
    ),
    ("post", "/api/v1/verify/ofd"): _op(
        "Verify a signed OFD file",
        "Body the OFD package (`application/ofd` or `application/zip`). " + PUBLIC,
        requestBody=OFD_BODY,
    ),
    ("post", "/api/v1/verify/license"): _op(
        "Verify a license document", "Stamp, issuer, identifier and current status. " + PUBLIC
    ),
    ("post", "/api/v1/license-types"): _op(
        "Create a license type",
        "A catalog entry with the JSON schema of its data. " + ROLE.format("license.type.manage"),
    ),
    ("get", "/api/v1/license-types/{type_code}"): _op("Get a license type", ROLE.format("license.read")),
    ("post", "/api/v1/licenses"): _op(
        "Issue a license",
        "Issues and stamps an e-license (GB/T 36901–36905); send `Idempotency-Key` to make retries safe. "
        + ROLE.format("license.issue"),
        **_json_example(
            {
                "type_code": "11100000000013338W032",
                "holder": {"name": "某建设有限公司", "id_type": "001", "id_number": "91440300708461136T"},
                "data": {"certificate_number": "D1", "qualification": "一级"},
                "valid_from": "2026-01-01",
                "valid_to": "2030-12-31",
                "seal_id": "seal-…",
            }
        ),
    ),
    ("get", "/api/v1/licenses"): _paged(
        "List or search licenses",
        "Filters: `holder_id` (holder's identity number), `type_code`, `status` (`valid`, `changed`, "
        "`revoked`, `expired`). With `holder_id` and no `status` only valid licenses are listed unless "
        "`include_inactive`. Every listed license's access is logged with `use_cause`.",
        "license.read",
    ),
    ("get", "/api/v1/licenses/{identifier}"): _op(
        "Get a license",
        "The document with its current status; access is logged. " + ROLE.format("license.read"),
    ),
    ("get", "/api/v1/licenses/{identifier}/history"): _op(
        "A license's history", "Every version, oldest first. " + ROLE.format("license.read")
    ),
    ("post", "/api/v1/licenses/{identifier}/change"): _op(
        "Change a license",
        "Issues the next version; the old one becomes `changed`. " + ROLE.format("license.issue"),
    ),
    ("post", "/api/v1/licenses/{identifier}/revoke"): _op(
        "Revoke a license (注销)", ROLE.format("license.revoke"), **_json_example({"reason": "企业注销"})
    ),
    ("post", "/api/v1/licenses/{identifier}/shares"): _op(
        "Share a license",
        "A time-limited, holder-authorised link for one audience. " + ROLE.format("license.share"),
    ),
    ("get", "/api/v1/shared/{token}"): _op(
        "Read a shared license",
        "`audience` and `use_cause` (用证事由) are required; access is logged. "
        + ROLE.format("license.read"),
    ),
    ("post", "/api/v1/licenses/{identifier}/verify-information"): _op(
        "Check claimed license fields",
        "Answers match / no match per claimed field, revealing nothing else. " + ROLE.format("license.read"),
    ),
    ("get", "/api/v1/hub/backlog"): _op(
        "What waits for the national hub",
        "Outbox counts and the last delivery error. " + ROLE.format("license.read"),
    ),
    ("get", "/api/v1/keys"): _paged(
        "List keys",
        "Key metadata, never private parts. "
        "Filters: `algorithm`, `status` (`active`, `disabled`), `backend`.",
        "key.read",
    ),
    ("get", "/api/v1/audit/events"): _paged(
        "Read or export the audit log",
        "Filters: `actor`, `action`, `subject` (exact), `since` (inclusive) and `until` (exclusive), "
        "ISO 8601 times (naive means UTC). `format=jsonl` streams every matching event as JSON Lines "
        "(`application/jsonl`, one event per line) instead of a page.",
        "audit.read",
    ),
    ("get", "/healthz"): _op("Health", "Answers while the database answers. " + PUBLIC),
    ("get", "/livez"): _op("Liveness probe", "200 while the process runs. " + PUBLIC),
    ("get", "/readyz"): _op(
        "Readiness probe",
        "200 when the database answers, the CA signing keys load and (if configured) the hub answers; "
        "otherwise 503 problem+json naming what failed. " + PUBLIC,
    ),
    ("get", "/metrics"): _op(
        "Prometheus metrics",
        "Counts only, no identifiers (text exposition format). Closed with LONGTRUST_METRICS=off. " + PUBLIC,
    ),
    ("get", "/trust-list"): _op(
        "This region's trust anchors", "CA certificates and seal makers, as reported to the hub. " + PUBLIC
    ),
}
