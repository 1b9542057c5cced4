"""E-license registry use cases: catalog, issuance, change, revocation, expiry, sharing, look-ups.

Each state change is stored with its audit event and its hub outbox event in one transaction.
Stamping happens before that transaction opens: the seal service records each stamp in its own
transaction, and SQLite allows one writer at a time. If the stamper fails, nothing is stored.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone

import rfc8785
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.clock import Clock
from core.errors import DomainError, ErrorCode, ErrorKind, conflict, forbidden, invalid, not_found
from core.identity import credit_code_problem
from core.principal import Principal
from db.audit import record
from db.base import Database
from license_registry import catalog, information, ofd_file, repo
from license_registry.document import build_document, content_digests, signed_content, signed_part, stamped
from license_registry.holder import (
    DEFAULT_LEGACY_CREDIT_CODES,
    HOLDER_KINDS,
    Holder,
    holder_hash,
    validate_holder,
)
from license_registry.hub_client import HubClient
from license_registry.identifier import build, parse, random_serial
from license_registry.listing import license_page
from license_registry.models import (
    SHARE_ID_LENGTH,
    License,
    LicenseShare,
    LicenseType,
)
from license_registry.outbox import TrustAnchor, catalog_event, license_event, status_event
from license_registry.outbox import report_trust_anchors as enqueue_trust_anchors
from license_registry.stamper import Stamper

CHINA = timezone(timedelta(hours=8), "CST")  # license dates are calendar days in China
MAX_TEXT = 200
MAX_SHARE_S = 30 * 24 * 3600
EXPIRY_BATCH = 500
SYSTEM_ACTOR = "system:registry"


def _text(field: str, value: str | None, limit: int = MAX_TEXT) -> str:
    value = (value or "").strip()
    if not value:
        raise invalid(f"{field} is required", ErrorCode("missing-" + field.lower().replace("_", "-")))
    if len(value) > limit:
        raise invalid(
            f"{field} is at most {limit} characters (got {len(value)})",
            ErrorCode("long-" + field.lower().replace("_", "-")),
        )
    return value


def share_id_of(token: str) -> str:
    """The share's public name: a prefix of its token's SHA-256 (the part the registry keeps)."""
    return _sha256(token)[:SHARE_ID_LENGTH]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _request_hash(request: dict) -> str:
    try:
        return hashlib.sha256(rfc8785.dumps(request)).hexdigest()
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise invalid(f"the request cannot be canonicalised (RFC 8785): {exc}", ErrorCode.JSON) from None


class RegistryService:
    def __init__(
        self,
        db: Database,
        stamper: Stamper,
        clock: Clock,
        region: str,
        hub_client: HubClient | None = None,
        *,
        public_url: str = "",
        legacy_credit_codes: frozenset[str] = DEFAULT_LEGACY_CREDIT_CODES,
    ):
        if not (len(region) == 6 and region.isdigit()):
            raise ValueError("region must be a 6-digit GB/T 2260 code")
        self.db = db
        self.stamper = stamper
        self.clock = clock
        self.region = region
        self.hub_client = hub_client
        self.public_url = public_url.rstrip("/")
        self.legacy_credit_codes = legacy_credit_codes

    # ---- catalog ------------------------------------------------------------------------------

    def create_type(
        self,
        type_code: str,
        name: str,
        issuer_code: str,
        holder_kind: str,
        schema: dict,
        principal,
        validity_days: int | None = None,
    ) -> dict:
        problem = catalog.type_code_problem(type_code, self.legacy_credit_codes)
        if problem:
            raise invalid(problem, ErrorCode.BAD_TYPE_CODE)
        problem = credit_code_problem(issuer_code, self.legacy_credit_codes)
        if problem:
            raise invalid(f"issuer_code: {problem}", ErrorCode.BAD_ISSUER_CODE)
        if holder_kind not in HOLDER_KINDS:
            raise invalid(f"holder_kind must be one of {', '.join(HOLDER_KINDS)}", ErrorCode.HOLDER_KIND)
        if validity_days is not None and not 1 <= validity_days <= 36500:
            raise invalid("validity_days is 1 to 36500 (omit it for long-term licenses)", ErrorCode.VALIDITY)
        row = LicenseType(
            type_code=type_code,
            name=_text("name", name),
            defining_body_code=type_code[:18],
            issuer_code=issuer_code,
            holder_kind=holder_kind,
            validity_days=validity_days,
            schema_json=catalog.check_schema(schema),
            created_by=principal.actor,
            created_at=self.clock.now(),
        )
        try:
            with self.db.unit_of_work() as s:
                if repo.license_type(s, type_code) is not None:
                    raise conflict(f"license type {type_code} exists", ErrorCode.TYPE_EXISTS)
                s.add(row)
                s.flush()
                catalog_event(s, self.region, row)
                record(
                    s,
                    principal.actor,
                    "license.type.create",
                    type_code,
                    name=row.name,
                    issuer_code=issuer_code,
                    holder_kind=holder_kind,
                )
        except IntegrityError:
            raise conflict(f"license type {type_code} exists", ErrorCode.TYPE_EXISTS) from None
        return _type_view(row)

    def get_type(self, type_code: str) -> dict:
        with self.db.read() as s:
            return _type_view(self._type(s, type_code))

    # ---- issuance and lifecycle ---------------------------------------------------------------

    def issue(
        self,
        type_code: str,
        holder: Mapping,
        data: dict,
        valid_from: date,
        valid_to: date | None,
        seal_id: str,
        principal,
        idempotency_key: str | None = None,
    ) -> dict:
        """Validate, stamp and store a new license (version 001); returns its document."""
        if not isinstance(holder, Mapping) or not isinstance(data, dict):
            raise invalid("holder and data are JSON objects", ErrorCode.BAD_REQUEST)
        request_hash = _request_hash(
            {
                "type_code": type_code,
                "holder": dict(holder),
                "data": data,
                "seal_id": seal_id,
                "valid_from": valid_from.isoformat(),
                "valid_to": valid_to.isoformat() if valid_to else None,
            }
        )
        if idempotency_key is not None:
            idempotency_key = _text("Idempotency-Key", idempotency_key)
            earlier = self._replay(idempotency_key, request_hash)
            if earlier is not None:
                return earlier
        with self.db.read() as s:
            license_type = self._type(s, type_code)
        person = validate_holder(
            license_type.holder_kind,
            holder.get("name"),
            holder.get("id_type"),
            holder.get("id_number"),
            self.legacy_credit_codes,
        )
        catalog.validate_data(license_type.schema_json, data)
        valid_to = catalog.validity(valid_from, valid_to, license_type.validity_days, self._today())
        identifier = build(type_code, license_type.issuer_code, random_serial(), 1)
        document = build_document(
            str(identifier),
            type_code,
            1,
            self.region,
            person,
            license_type.issuer_code,
            data,
            valid_from,
            valid_to,
        )
        row = self._stamped_row(document, identifier.serial, seal_id, person, principal)
        row.idempotency_key, row.request_hash = idempotency_key, request_hash
        try:
            with self.db.unit_of_work() as s:
                s.add(row)
                s.flush()
                license_event(s, row)
                record(
                    s,
                    principal.actor,
                    "license.issue",
                    row.identifier,
                    type_code=type_code,
                    seal_id=seal_id,
                    holder_hash=row.holder_hash,
                )
        except IntegrityError:
            earlier = self._replay(idempotency_key, request_hash) if idempotency_key else None
            if earlier is None:
                raise
            return earlier
        return json.loads(row.document_json)

    def change(self, identifier: str, data: dict, principal: Principal) -> dict:
        """变更: a new version with new data, referencing the previous one, which becomes "changed"."""
        with self.db.read() as s:
            old = self._license(s, identifier)
            license_type = self._type(s, old.type_code)
        if old.status != "valid":
            raise conflict(
                f"license {identifier} is {old.status}: only a valid license can be changed",
                ErrorCode(f"license-{old.status}"),
            )
        if old.valid_to is not None and old.valid_to < self._today():
            raise conflict(f"license {identifier} has passed its validity", ErrorCode.LICENSE_EXPIRED)
        if not isinstance(data, dict):
            raise invalid("data is a JSON object", ErrorCode.BAD_REQUEST)
        catalog.validate_data(license_type.schema_json, data)
        new_id = parse(old.identifier).next_version()
        person = Holder(old.holder_name, old.holder_id_type, old.holder_id_number)
        document = build_document(
            str(new_id),
            old.type_code,
            new_id.version,
            self.region,
            person,
            old.issuer_code,
            data,
            old.valid_from,
            old.valid_to,
            previous_identifier=old.identifier,
        )
        row = self._stamped_row(document, new_id.serial, old.seal_id, person, principal)
        row.previous_identifier = old.identifier
        try:
            with self.db.unit_of_work() as s:
                current = self._license(s, identifier, for_update=True)
                if current.status != "valid":
                    raise conflict(
                        f"license {identifier} became {current.status} meanwhile", ErrorCode.LICENSE_CHANGED
                    )
                self._set_status(s, current, "changed", superseded_by=row.identifier)
                s.add(row)
                s.flush()
                license_event(s, row)
                record(s, principal.actor, "license.change", identifier, new_identifier=row.identifier)
        except IntegrityError:
            raise conflict(f"license {identifier} was changed meanwhile", ErrorCode.LICENSE_CHANGED) from None
        return json.loads(row.document_json)

    def revoke(self, identifier: str, reason: str, principal: Principal) -> dict:
        """注销: the license stays on record, marked revoked, and the hub is told."""
        reason = _text("reason", reason)
        with self.db.unit_of_work() as s:
            row = self._license(s, identifier, for_update=True)
            if row.status == "revoked":
                raise conflict(f"license {identifier} is already revoked", ErrorCode.ALREADY_REVOKED)
            if row.status != "valid":
                raise conflict(
                    f"license {identifier} is {row.status}: only a valid license can be revoked",
                    ErrorCode(f"license-{row.status}"),
                )
            row.revoked_at, row.reason = self.clock.now(), reason
            self._set_status(s, row, "revoked")
            record(s, principal.actor, "license.revoke", identifier, reason=reason)
            return _document(row)

    def expire_due(self, now: datetime | None = None) -> int:
        """Mark valid licenses whose last valid day has passed as expired; returns how many."""
        today = (now or self.clock.now()).astimezone(CHINA).date()
        total = 0
        while True:
            with self.db.unit_of_work() as s:
                rows = repo.due_to_expire(s, today, EXPIRY_BATCH)
                for row in rows:
                    self._set_status(s, row, "expired")
                    record(
                        s, SYSTEM_ACTOR, "license.expire", row.identifier, valid_to=row.valid_to.isoformat()
                    )
            total += len(rows)
            if len(rows) < EXPIRY_BATCH:
                return total

    # ---- reading ------------------------------------------------------------------------------

    def get(self, identifier: str, principal: Principal | None = None, use_cause: str | None = None) -> dict:
        """The document with its current status; logs the access when a principal is given."""
        if principal is None:
            with self.db.read() as s:
                return _document(self._license(s, identifier))
        with self.db.unit_of_work() as s:
            row = self._license(s, identifier)
            self._log(s, identifier, principal.actor, "read", use_cause=use_cause)
            return _document(row)

    def license_file(
        self, identifier: str, principal: Principal | None = None, use_cause: str | None = None
    ) -> bytes:
        """The license as a stamped OFD file (license_registry.ofd_file); the read is logged as ``get`` is."""
        return self._file(self.get(identifier, principal, use_cause))

    def shared_file(
        self,
        token: str,
        audience: str | None = None,
        use_cause: str | None = None,
        principal: Principal | None = None,
    ) -> bytes:
        """The shared license as a stamped OFD file, under the same checks as ``read_shared``."""
        return self._file(self.read_shared(token, audience, use_cause, principal))

    def _file(self, document: dict) -> bytes:
        with self.db.read() as s:
            seal_id = self._license(s, document["identifier"]).seal_id
        license_type = self.get_type(document["type_code"])
        return ofd_file.stamped_file(document, license_type, seal_id, self.stamper, self.public_url)

    def history(self, identifier: str) -> list[dict]:
        """Every version of this license, oldest first."""
        with self.db.read() as s:
            row = self._license(s, identifier)
            rows = repo.versions(s, row)
        return [
            {
                "identifier": r.identifier,
                "version": f"{r.version:03d}",
                "status": r.status,
                "previous_identifier": r.previous_identifier,
                "valid_from": r.valid_from.isoformat(),
                "valid_to": r.valid_to.isoformat() if r.valid_to else None,
                "created_at": r.created_at,
                "status_changed_at": r.status_changed_at,
                "reason": r.reason,
            }
            for r in rows
        ]

    def query(
        self,
        holder_id_number: str,
        type_code: str | None = None,
        principal: Principal | None = None,
        use_cause: str | None = None,
        include_inactive: bool = False,
    ) -> list[dict]:
        """The holder's licenses (valid ones unless ``include_inactive``), newest first."""
        number = _text("holder_id", holder_id_number, 18).upper()
        with self.db.unit_of_work() as s:
            rows = repo.holder_licenses(s, number, type_code, include_inactive)
            if principal is not None:
                for row in rows:
                    self._log(s, row.identifier, principal.actor, "query", use_cause=use_cause)
            return [_document(r) for r in rows]

    def list_licenses(
        self,
        limit: int,
        cursor: str | None = None,
        principal: Principal | None = None,
        use_cause: str | None = None,
        **filters,
    ) -> tuple[list[dict], str | None]:
        """A page of license documents (filters as ``listing.license_page``) and the next cursor;
        each listed license's access is logged when a principal is given."""
        with self.db.unit_of_work() as s:
            page = license_page(s, limit, cursor, **filters)
            if principal is not None:
                for row in page.items:
                    self._log(s, row.identifier, principal.actor, "query", use_cause=use_cause)
            return [_document(r) for r in page.items], page.next_cursor

    def verify_information(
        self, identifier: str, claimed: dict, principal: Principal | None = None, use_cause: str | None = None
    ) -> dict[str, str]:
        """信息核验: each claimed field → "match" | "no match"; nothing else about the license is revealed."""
        if not isinstance(claimed, dict) or not claimed:
            raise invalid("claimed is a non-empty JSON object of fields to check", ErrorCode.BAD_REQUEST)
        if len(information.flatten(claimed)) > information.MAX_FIELDS:
            raise invalid(f"at most {information.MAX_FIELDS} fields per check", ErrorCode.TOO_MANY_FIELDS)
        with self.db.unit_of_work() as s:
            row = self._license(s, identifier)
            if principal is not None:
                self._log(s, identifier, principal.actor, "verify-information", use_cause=use_cause)
            return information.compare({**signed_part(_document(row)), "status": row.status}, claimed)

    def status_of(self, identifier: str) -> dict:
        """``{identifier, region, status, version, updated_at, reason?, superseded_by?}``: ours from
        here, others' from the hub. A revoked license carries its reason; a changed (superseded) one
        names the identifier of the version that replaced it. Raises NOT_FOUND when nobody knows it."""
        with self.db.read() as s:
            row = repo.status_facts(s, identifier)
            successor = repo.successor(s, row) if row is not None and row.status == "changed" else None
        if row is not None:
            region, status, version, changed_at, created_at, reason = row[:6]
            answer = {
                "identifier": identifier,
                "region": region,
                "status": status,
                "version": f"{version:03d}",
                "updated_at": (changed_at or created_at).isoformat(),
            }
            if status == "revoked":
                answer["reason"] = reason
            if successor:
                answer["superseded_by"] = successor
            return answer
        remote = self.hub_client.license_status(identifier) if self.hub_client else None
        if remote is None:
            raise not_found(f"no license {identifier}")
        return remote

    # ---- sharing ------------------------------------------------------------------------------

    def create_share(
        self, identifier: str, audience: str, expires_in_s: int, use_cause: str, principal
    ) -> tuple[str, str]:
        """Holder-authorised access for one ``audience`` and ``use_cause`` (用证事由) until it expires
        or is withdrawn; returns (token, url). The URL works as given, a plain GET with no account
        at this region: the token is the credential. Only the token's hash is kept."""
        audience, use_cause = _text("audience", audience), _text("use_cause", use_cause)
        if not isinstance(expires_in_s, int) or not 1 <= expires_in_s <= MAX_SHARE_S:
            raise invalid(f"expires_in_s is 1 to {MAX_SHARE_S} seconds", ErrorCode.SHARE_EXPIRY)
        token = "ls_" + secrets.token_urlsafe(32)
        now = self.clock.now()
        with self.db.unit_of_work() as s:
            row = self._license(s, identifier)
            if row.status != "valid":
                raise conflict(
                    f"license {identifier} is {row.status}: only a valid license can be shared",
                    ErrorCode(f"license-{row.status}"),
                )
            expires_at = now + timedelta(seconds=expires_in_s)
            repo.add_share(
                s, _sha256(token), identifier, audience, use_cause, expires_at, principal.actor, now
            )
            record(
                s,
                principal.actor,
                "license.share",
                identifier,
                audience=audience,
                use_cause=use_cause,
                expires_at=expires_at.isoformat(),
            )
        return token, f"{self.public_url}/api/v1/shared/{token}"

    def read_shared(
        self,
        token: str,
        audience: str | None = None,
        use_cause: str | None = None,
        principal: Principal | None = None,
    ) -> dict:
        """The shared license with its current status, for whoever holds the share's token.

        Every read is logged with the audience and use cause given at creation (a ``use_cause`` the
        caller states is only checked for form). Raises NOT_FOUND for an unknown token, GONE (410)
        for an expired or withdrawn share, FORBIDDEN when a stated ``audience`` is not the share's."""
        if audience is not None:
            audience = _text("audience", audience)
        if use_cause is not None:
            use_cause = _text("use_cause", use_cause)
        with self.db.unit_of_work() as s:
            share = self._share(s, token)
            if audience is not None and share.audience != audience:
                raise forbidden("this share was granted to another audience")
            row = self._license(s, share.identifier)
            who = principal.actor if principal is not None else f"audience:{share.audience}"
            self._log(
                s, share.identifier, who, "shared-read", audience=share.audience, use_cause=share.use_cause
            )
            return _document(row)

    def withdraw_share(self, identifier: str, share_id: str, principal: Principal) -> None:
        """The holder withdraws a share: its link answers 410 from now on. Raises NOT_FOUND, or
        CONFLICT when it was already withdrawn."""
        with self.db.unit_of_work() as s:
            share = repo.share_by_id(s, identifier, share_id)
            if share is None or len(share_id) != SHARE_ID_LENGTH:
                raise not_found(f"license {identifier} has no share {share_id}")
            if share.withdrawn_at is not None:
                raise conflict(f"share {share_id} was already withdrawn", ErrorCode.SHARE_WITHDRAWN)
            share.withdrawn_at = self.clock.now()
            record(s, principal.actor, "license.share-withdraw", identifier, share_id=share_id)

    def _share(self, s: Session, token: str) -> LicenseShare:
        share = repo.share(s, _sha256(token or ""))
        if share is None:
            raise not_found("no such share")
        if share.withdrawn_at is not None:
            raise DomainError(
                ErrorKind.GONE,
                f"this share was withdrawn at {share.withdrawn_at.isoformat()}",
                code=ErrorCode.SHARE_WITHDRAWN,
            )
        if share.expires_at <= self.clock.now():
            raise DomainError(
                ErrorKind.GONE,
                f"this share expired at {share.expires_at.isoformat()}",
                code=ErrorCode.SHARE_EXPIRED,
            )
        return share

    # ---- hub ----------------------------------------------------------------------------------

    def report_trust_anchors(self, anchors: list[TrustAnchor], actor: str = SYSTEM_ACTOR) -> int:
        return enqueue_trust_anchors(self.db, self.region, anchors, actor, self.clock.now())

    def outbox_backlog(self) -> dict:
        """What still waits for the hub: counts, the oldest waiting event and the latest delivery error."""
        with self.db.read() as s:
            return repo.outbox_backlog(s)

    # ---- helpers ------------------------------------------------------------------------------

    def _today(self) -> date:
        return self.clock.now().astimezone(CHINA).date()

    def _type(self, s: Session, type_code: str) -> LicenseType:
        row = repo.license_type(s, type_code)
        if row is None:
            raise not_found(f"no license type {type_code}")
        return row

    def _license(self, s: Session, identifier: str, for_update: bool = False) -> License:
        row = repo.license_row(s, identifier, lock=for_update)
        if row is None:
            raise not_found(f"no license {identifier}")
        return row

    def _replay(self, idempotency_key: str, request_hash: str) -> dict | None:
        with self.db.read() as s:
            row = repo.by_idempotency_key(s, idempotency_key)
        if row is None:
            return None
        if row.request_hash != request_hash:
            raise conflict(
                "this Idempotency-Key was used for a different request", ErrorCode.IDEMPOTENCY_KEY_REUSED
            )
        return json.loads(row.document_json)

    def _stamped_row(
        self, document: dict, serial: str, seal_id: str, person: Holder, principal: Principal
    ) -> License:
        content = signed_content(document)
        result = self.stamper.stamp_data(
            seal_id, signed_part(document), principal, property_id=document["identifier"]
        )
        if result.data_hash_hex.lower() not in content_digests(content):
            raise RuntimeError("the seal service stamped other content than the license")
        issued = stamped(document, result.ses_signature_der, "valid")
        return License(
            identifier=document["identifier"],
            type_code=document["type_code"],
            version=int(document["version"]),
            serial=serial,
            issuer_code=document["issuer"],
            region=self.region,
            holder_name=person.name,
            holder_id_type=person.id_type,
            holder_id_number=person.id_number,
            holder_hash=holder_hash(person.id_number),
            data_json=json.dumps(document["data"], ensure_ascii=False),
            valid_from=date.fromisoformat(document["valid_from"]),
            valid_to=date.fromisoformat(document["valid_to"]) if document["valid_to"] else None,
            status="valid",
            seal_id=seal_id,
            stamp_der=result.ses_signature_der,
            document_json=json.dumps(issued, ensure_ascii=False),
            created_by=principal.actor,
            created_at=self.clock.now(),
        )

    def _set_status(self, s: Session, row: License, status: str, superseded_by: str | None = None) -> None:
        now = self.clock.now()
        row.status, row.status_changed_at = status, now
        s.flush()
        status_event(s, row, now, superseded_by)

    def _log(
        self,
        s: Session,
        identifier: str,
        who: str,
        action: str,
        *,
        audience: str | None = None,
        use_cause: str | None = None,
    ) -> None:
        if use_cause is not None:
            use_cause = _text("use_cause", use_cause)
        repo.add_access(s, identifier, who, action, audience, use_cause, self.clock.now())


def _document(row: License) -> dict:
    document = json.loads(row.document_json)
    document["status"] = row.status
    return document


def _type_view(row: LicenseType) -> dict:
    return {
        "type_code": row.type_code,
        "name": row.name,
        "defining_body_code": row.defining_body_code,
        "issuer_code": row.issuer_code,
        "holder_kind": row.holder_kind,
        "validity_days": row.validity_days,
        "schema": json.loads(row.schema_json),
        "created_at": row.created_at,
    }
