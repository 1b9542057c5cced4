"""Use cases of the national hub: regions, report ingestion, the license index and the trust list.

Each public method is one transaction and audits its state changes in it. A report batch is one
transaction (a crash leaves either the whole batch or nothing), processed under a per-region lock so
concurrent deliveries of the same batch apply each event exactly once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from asn1crypto import x509
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.clock import Clock
from core.errors import DomainError, ErrorCode, ErrorKind, conflict, forbidden, invalid, not_found
from db.audit import record
from db.base import Database
from keys.service import KeyService
from national_hub import repo
from national_hub.client_check import RegionCertificateCheck
from national_hub.models import (
    HubCatalogEntry,
    HubLicense,
    HubReceivedEvent,
    HubTrustAnchor,
    HubTrustListState,
)
from national_hub.schemas import (
    PAYLOADS,
    CatalogPayload,
    LicensePayload,
    StatusPayload,
    TrustAnchorPayload,
)
from national_hub.trust_list import (
    FORMAT_VERSION,
    canonical_json,
    certificate_der,
    hub_certificate,
    iso,
    sha256_hex,
    sign_trust_list,
    to_pem,
)
from national_hub.witness import AuditWitness

log = logging.getLogger("longtrust.hub")

SYSTEM_ACTOR = "system:hub"
IDENTIFIER_ROOT = "1.2.156.3005.2."  # the e-license root code (standards.md §6.4)
FOREIGN_ISSUER = ErrorCode.FOREIGN_ISSUER_CODE  # problem code of a batch refused for another region's issuer
_ISSUER_CODE = re.compile(r"^[0-9A-Z]{1,64}$")
FINAL_STATUSES = {"revoked", "changed"}  # within one version, a license never leaves these


@dataclass(frozen=True)
class LicenseStatus:
    identifier: str
    region: str
    status: str
    version: str
    updated_at: datetime
    reason: str | None = None
    superseded_by: str | None = None


class Rejected(Exception):
    """An event the hub refuses; its message is the detail sent back to the region."""


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class HubService:
    def __init__(
        self,
        db: Database,
        keys: KeyService,
        clock: Clock,
        *,
        trust_list_validity: timedelta = timedelta(hours=24),
        client_check: RegionCertificateCheck | None = None,
    ):
        self.db = db
        self.client_check = client_check or RegionCertificateCheck()
        self.keys = keys
        self.clock = clock
        self.trust_list_validity = trust_list_validity
        self._cached_list: tuple[tuple, str] | None = None  # ((sequence, issued_at), signed JSON)
        self.witness = AuditWitness(db, clock)

    # --- regions ---------------------------------------------------------------------------------

    def add_region(
        self,
        code: str,
        name: str,
        actor: str,
        client_cert_der: bytes | None = None,
        issuer_codes: Sequence[str] = (),
    ) -> str:
        """Register a region; returns its bearer token (only its SHA-256 is stored). With
        ``client_cert_der`` the region may authenticate with that client certificate (mTLS) too;
        ``issuer_codes`` are bound to it at once (see :meth:`bind`)."""
        if not (len(code) == 6 and code.isascii() and code.isdigit()):
            raise invalid("a region code is 6 digits (GB/T 2260), e.g. 230000", ErrorCode.BAD_REGION_CODE)
        name = name.strip()
        if not 0 < len(name) <= 200:
            raise invalid("a region needs a name of at most 200 characters", ErrorCode.BAD_REGION_NAME)
        token = "hub_" + secrets.token_urlsafe(32)
        try:
            with self.db.unit_of_work() as s:
                if repo.region(s, code) is not None:
                    raise conflict(f"region {code} is already registered", ErrorCode.REGION_EXISTS)
                repo.add_region(s, code, name, _token_hash(token), self.clock.now())
                s.flush()
                repo.mark_trust_list_changed(s)
                record(s, actor, "hub.region.add", f"region:{code}", name=name)
                self._bind(s, code, actor, client_cert_der, issuer_codes)
        except IntegrityError:
            raise conflict(
                f"region {code}, its certificate or an issuer code is already registered"
            ) from None
        return token

    def bind(
        self, code: str, actor: str, client_cert_der: bytes | None = None, issuer_codes: Sequence[str] = ()
    ) -> None:
        """Bind to region ``code`` a client certificate (DER; it replaces the previous one, which is
        refused from then on) and license issuer codes (only this region may then report licenses
        whose identifier carries them). not_found for an unknown region; conflict when the
        certificate or an issuer code belongs to another region."""
        try:
            with self.db.unit_of_work() as s:
                if repo.region(s, code, lock=True) is None:
                    raise not_found(f"region {code} is not registered at the hub")
                self._bind(s, code, actor, client_cert_der, issuer_codes)
        except IntegrityError:
            raise conflict("the certificate or an issuer code belongs to another region") from None

    def _bind(
        self, s: Session, code: str, actor: str, der: bytes | None, issuer_codes: Sequence[str]
    ) -> None:
        region = repo.region(s, code)
        if der is not None:
            region.client_cert_sha256 = sha256_hex(der)
            record(s, actor, "hub.region.certificate", f"region:{code}", sha256=region.client_cert_sha256)
        owners = repo.issuer_regions(s, issuer_codes)
        taken = sorted(c for c, owner in owners.items() if owner != code)
        if taken:
            raise conflict(
                f"issuer codes {', '.join(taken)} belong to another region", ErrorCode.ISSUER_CODE_BOUND
            )
        for issuer in sorted(set(issuer_codes) - set(owners)):
            if not _ISSUER_CODE.match(issuer):
                raise invalid(
                    f"{issuer!r} is not an issuer code (1-64 of 0-9, A-Z)", ErrorCode.BAD_ISSUER_CODE
                )
            repo.bind_issuer_code(s, issuer, code, actor, self.clock.now())
            record(s, actor, "hub.issuer-code.bind", f"issuer:{issuer}", region=code)
        s.flush()

    def authenticate(self, token: str) -> str | None:
        """The region a token belongs to, or None."""
        with self.db.read() as s:
            return repo.region_by_token_hash(s, _token_hash(token))

    def authenticate_certificate(self, der: bytes) -> str | None:
        """The region whose registered client certificate is exactly ``der``, or None. The
        registration is read from the database on every call, so a replaced certificate is refused at
        once by every process; a registered one must also be within its validity period, chain to the
        region's active CA certificates of the trust list and be good by its OCSP responder or CRL
        (:mod:`national_hub.client_check`; fail closed, refusals logged)."""
        try:
            validity = x509.Certificate.load(der)["tbs_certificate"]["validity"].native
        except (ValueError, TypeError, KeyError):
            return None
        if not validity["not_before"] <= self.clock.now() < validity["not_after"]:
            return None
        with self.db.read() as s:
            region = repo.region_by_certificate(s, sha256_hex(der))
            anchors = repo.active_ca_anchors(s, region) if region is not None else []
        if region is None:
            return None
        refusal = self.client_check.refusal(der, anchors)
        if refusal is not None:
            log.warning("region %s: client certificate %s refused: %s", region, sha256_hex(der)[:16], refusal)
            return None
        return region

    # --- reports ---------------------------------------------------------------------------------

    def ingest(self, region: str, events: Sequence[Mapping]) -> list[dict]:
        """Apply a region's events in order; one result per event (accepted, duplicate or rejected).

        Each event is a mapping with idempotency_key, kind, at (ISO 8601) and payload."""
        try:
            with self.db.unit_of_work() as s, s.no_autoflush:
                repo.lock_region(s, region)
                if repo.region(s, region) is None:
                    raise forbidden(f"region {region} is not registered at the hub")
                batch = _Batch(s, region, self.clock.now(), events)
                batch.check_issuers()
                results = [batch.apply(event) for event in events]
                if batch.anchor_changes:
                    repo.mark_trust_list_changed(s)
                batch.audit()
        except IntegrityError:
            raise DomainError(
                ErrorKind.UNAVAILABLE,
                "another region indexed one of these identifiers at the same moment; send the batch again",
                code=ErrorCode.RETRY,
            ) from None
        return results

    # --- license index ---------------------------------------------------------------------------

    def license_status(self, identifier: str) -> LicenseStatus:
        with self.db.read() as s:
            row = s.get(HubLicense, identifier)
        if row is None:
            raise not_found(f"no license {identifier} is known to the hub")
        return LicenseStatus(
            row.identifier, row.region, row.status, row.version, row.updated_at, row.reason, row.superseded_by
        )

    # --- trust list ------------------------------------------------------------------------------

    def ensure_signing_key(self, actor: str) -> str:
        """The key_ref of the trust-list key; creates an SM2 key and its certificate on first use."""
        with self.db.read() as s:
            head = repo.trust_list_head(s)
        if head is not None:
            return head.key_ref
        try:
            with self.db.unit_of_work() as s:
                existing = repo.trust_list_state(s)
                if existing is not None:
                    return existing.key_ref
                key = self.keys.create(s, "sm2", "national hub trust-list signing", actor)
                cert = hub_certificate(self.keys.signer(key.key_ref), self.clock.now())
                repo.add_trust_list_state(s, key.key_ref, cert)
                s.flush()
                record(s, actor, "hub.signing-key.create", key.key_ref, certificate_sha256=sha256_hex(cert))
                return key.key_ref
        except IntegrityError:  # another worker created it first
            with self.db.read() as s:
                return repo.trust_list_head(s).key_ref

    def hub_certificate_pem(self) -> str:
        self.ensure_signing_key(SYSTEM_ACTOR)
        with self.db.read() as s:
            return to_pem(repo.trust_list_state(s).certificate_der)

    def trust_list(self) -> dict:
        """The current signed trust list (see national_hub.trust_list for its form)."""
        return json.loads(self.trust_list_json())

    def trust_list_json(self) -> str:
        """The signed trust list as stored: re-signed only when the content changed or it ages."""
        with self.db.read() as s:
            head = repo.trust_list_head(s)
        if head is None:
            self.ensure_signing_key(SYSTEM_ACTOR)
            return self._publish()
        if head.dirty or not self._fresh(head.issued_at):
            return self._publish()
        cached = self._cached_list
        if cached is not None and cached[0] == (head.sequence, head.issued_at):
            return cached[1]
        with self.db.read() as s:
            document = repo.trust_list_state(s).document
        self._cached_list = ((head.sequence, head.issued_at), document)
        return document

    def _fresh(self, issued_at: datetime | None) -> bool:
        """Signed recently enough: clients always get at least half the validity before next_update."""
        return issued_at is not None and self.clock.now() < issued_at + self.trust_list_validity / 2

    def _publish(self) -> str:
        with self.db.unit_of_work() as s:
            state = repo.trust_list_state(s, lock=True)
            if state.dirty or state.document is None or not self._fresh(state.issued_at):
                self._sign(s, state)
            document, key = state.document, (state.sequence, state.issued_at)
        self._cached_list = (key, document)
        return document

    def _sign(self, s: Session, state: HubTrustListState) -> None:
        regions = repo.trust_list_regions(s)
        content_sha256 = sha256_hex(canonical_json(regions))
        changed = content_sha256 != state.content_sha256
        if changed:
            state.sequence += 1
            state.content_sha256 = content_sha256
        now = self.clock.now()
        payload = {
            "version": FORMAT_VERSION,
            "sequence": state.sequence,
            "issued_at": iso(now),
            "next_update": iso(now + self.trust_list_validity),
            "regions": regions,
        }
        document = sign_trust_list(payload, self.keys.signer(state.key_ref), state.certificate_der)
        state.document = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        state.issued_at, state.dirty = now, False
        record(
            s,
            SYSTEM_ACTOR,
            "hub.trust-list.sign",
            f"trust-list:{state.sequence}",
            sequence=state.sequence,
            content_sha256=content_sha256,
            content_changed=changed,
        )


class _Batch:
    """One report batch inside its transaction: receipts, per-kind effects, and what to audit."""

    def __init__(self, session: Session, region: str, now: datetime, events: Sequence[Mapping]):
        self.s, self.region, self.now, self.events = session, region, now, events
        self.issuers: dict[str, str] = {}
        self.receipts = repo.receipts(session, region, [e["idempotency_key"] for e in events])
        # Loaded once: an identifier missing here is new to the hub, so no per-event lookups follow.
        self.licenses = repo.load_licenses(
            session, [e["payload"].get("identifier") for e in events if isinstance(e.get("payload"), Mapping)]
        )
        self.anchors: dict[tuple[str, str], HubTrustAnchor] = {}
        self.counts: Counter[str] = Counter()
        self.anchor_changes: list[dict] = []
        self.accepted_keys = hashlib.sha256()

    def check_issuers(self) -> None:
        """Refuse the whole batch (403) when a license in it carries an issuer code bound to another
        region: a region reports only its own issuers' licenses."""
        codes = {issuer_code(e["payload"]) for e in self.events if e.get("kind") == "license"} - {None}
        self.issuers = repo.issuer_regions(self.s, codes)
        foreign = sorted(c for c, owner in self.issuers.items() if owner != self.region)
        if foreign:
            raise DomainError(
                ErrorKind.FORBIDDEN,
                f"issuer codes {', '.join(foreign)} belong to other regions; region {self.region} may "
                "not report their licenses (nothing in this batch was stored)",
                code=FOREIGN_ISSUER,
            )

    def apply(self, event: Mapping) -> dict:
        key, kind = event["idempotency_key"], event["kind"]
        digest = sha256_hex(canonical_json([kind, event["at"], event["payload"]]))
        previous = self.receipts.get(key)
        if previous is not None and previous.result == "accepted":
            if previous.event_sha256 != digest:
                return self._answer(key, "rejected", "the idempotency key was already used for another event")
            return self._answer(key, "duplicate", f"already accepted at {iso(previous.received_at)}")
        try:
            detail = self._effect(kind, event["at"], event["payload"])
            result = "accepted"
            self.accepted_keys.update(key.encode() + b"\n")
        except Rejected as exc:
            result, detail = "rejected", str(exc)[:500]
        receipt = previous or HubReceivedEvent(region=self.region, idempotency_key=key)
        receipt.kind, receipt.event_sha256, receipt.received_at = kind, digest, self.now
        receipt.result, receipt.detail = result, detail
        if previous is None:
            self.s.add(receipt)
            self.receipts[key] = receipt
        return self._answer(key, result, detail)

    def _answer(self, key: str, result: str, detail: str) -> dict:
        self.counts[result] += 1
        return {"idempotency_key": key, "result": result, "detail": detail}

    def _effect(self, kind: str, at_text: str, payload: Mapping) -> str:
        model = PAYLOADS.get(kind)
        if model is None:
            raise Rejected(f"unknown kind {kind!r}; one of {', '.join(PAYLOADS)}")
        try:
            at = datetime.fromisoformat(at_text)
        except ValueError:
            raise Rejected(f"'at' is not an ISO 8601 time: {at_text!r}") from None
        if at.tzinfo is None:
            raise Rejected("'at' needs a time zone (e.g. 2025-01-01T08:00:00+08:00)")
        try:
            data = model.model_validate(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise Rejected(f"payload.{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
        apply = {
            "catalog": self._catalog,
            "license": self._license,
            "status": self._status,
            "trust-anchor": self._trust_anchor,
        }[kind]
        return apply(at, data)

    def _catalog(self, at: datetime, p: CatalogPayload) -> str:
        entry = self.s.get(HubCatalogEntry, (self.region, p.type_code))
        if entry is None:
            entry = HubCatalogEntry(region=self.region, type_code=p.type_code)
            self.s.add(entry)
        entry.name, entry.defining_body_code, entry.holder_kind = p.name, p.defining_body_code, p.holder_kind
        entry.updated_at = at
        return f"license type {p.type_code} registered"

    def _license(self, at: datetime, p: LicensePayload) -> str:
        if p.region != self.region:
            raise Rejected(f"payload region {p.region} is not the reporting region {self.region}")
        if issuer_code(p.model_dump()) != p.issuer_code:
            raise Rejected(f"the identifier's issuer code is not issuer_code {p.issuer_code}")
        row = self._owned_license(p.identifier, must_exist=False)
        if row is not None:
            _check_move(row, p.status, p.version)
        self._bind_issuer(p.issuer_code, at)
        if row is None:
            # Should another region index the same identifier concurrently, the unique key fails the
            # whole batch at commit; the region retries it and then gets this identifier rejected.
            row = HubLicense(
                identifier=p.identifier,
                region=self.region,
                type_code=p.type_code,
                issuer_code=p.issuer_code,
                holder_hash=p.holder_hash.lower(),
                status=p.status,
                version=p.version,
                updated_at=at,
            )
            self.s.add(row)
            self.licenses[p.identifier] = row
            return f"{p.identifier} indexed ({p.status}, version {p.version})"
        row.type_code, row.issuer_code, row.holder_hash = p.type_code, p.issuer_code, p.holder_hash.lower()
        self._set_status(row, p.status, p.version, None, at)
        return f"{p.identifier} updated ({row.status}, version {row.version})"

    def _bind_issuer(self, code: str, at: datetime) -> None:
        """A region's first accepted license with an unbound issuer code binds the code to it."""
        if code not in self.issuers:
            actor = f"region:{self.region}"
            repo.bind_issuer_code(self.s, code, self.region, actor, at)
            self.issuers[code] = self.region

    def _status(self, at: datetime, p: StatusPayload) -> str:
        row = self._owned_license(p.identifier, must_exist=True)
        _check_move(row, p.status, p.version)
        self._set_status(row, p.status, p.version, p.reason, at)
        row.superseded_by = p.superseded_by if p.status == "changed" else None
        return f"{p.identifier} is {row.status} (version {row.version})"

    def _owned_license(self, identifier: str, must_exist: bool) -> HubLicense | None:
        row = self.licenses.get(identifier)
        if row is None and must_exist:
            raise Rejected(f"unknown identifier {identifier}: report the license before its status")
        if row is not None and row.region != self.region:
            raise Rejected(f"{identifier} belongs to region {row.region}")
        return row

    @staticmethod
    def _set_status(row: HubLicense, status: str, version: str, reason: str | None, at: datetime) -> None:
        if (row.status, int(row.version)) != (status, int(version)):
            row.status, row.version, row.reason, row.updated_at = status, version, reason, at

    def _trust_anchor(self, at: datetime, p: TrustAnchorPayload) -> str:
        try:
            der = certificate_der(p.certificate_pem)
        except DomainError as exc:
            raise Rejected(exc.detail) from None
        digest = sha256_hex(der)
        anchor = self.anchors.get((p.kind, digest)) or repo.trust_anchor(self.s, self.region, p.kind, digest)
        if anchor is not None and anchor.status == p.status:
            return f"{p.kind} {digest[:16]} is already {p.status}"
        if anchor is not None and anchor.status == "revoked":
            raise Rejected(f"{p.kind} {digest[:16]} was revoked; a revoked trust anchor is never reactivated")
        if anchor is None:
            anchor = HubTrustAnchor(
                region=self.region, kind=p.kind, sha256=digest, certificate_der=der, history="[]"
            )
            self.s.add(anchor)
        self.anchors[(p.kind, digest)] = anchor
        anchor.status, anchor.updated_at = p.status, at
        anchor.history = json.dumps([*json.loads(anchor.history), {"status": p.status, "at": iso(at)}])
        self.anchor_changes.append({"kind": p.kind, "sha256": digest, "status": p.status})
        return f"{p.kind} {digest[:16]} is {p.status}"

    def audit(self) -> None:
        """One event for the batch, one per trust-anchor change (written last: lock order state → audit)."""
        if not (self.counts["accepted"] or self.counts["rejected"]):
            return
        actor = f"region:{self.region}"
        record(
            self.s,
            actor,
            "hub.report",
            actor,
            accepted=self.counts["accepted"],
            rejected=self.counts["rejected"],
            duplicate=self.counts["duplicate"],
            accepted_keys_sha256=self.accepted_keys.hexdigest(),
        )
        for change in self.anchor_changes:
            record(
                self.s,
                actor,
                "hub.trust-anchor." + change["status"],
                f"anchor:{change['sha256']}",
                region=self.region,
                kind=change["kind"],
            )


def issuer_code(payload: object) -> str | None:
    """The issuer code a license payload carries: the second part of a GB/T 36904 identifier
    (``1.2.156.3005.2.<type>.<issuer>.<serial>.<version>.<check>``), else its ``issuer_code``."""
    if not isinstance(payload, Mapping):
        return None
    identifier = payload.get("identifier")
    if isinstance(identifier, str) and identifier.startswith(IDENTIFIER_ROOT):
        parts = identifier[len(IDENTIFIER_ROOT) :].split(".")
        if len(parts) == 5:
            return parts[1]
    code = payload.get("issuer_code")
    return code if isinstance(code, str) else None


def _check_move(row: HubLicense, status: str, version: str) -> None:
    """A license never goes back to an older version, nor out of revoked/changed within one version."""
    current, new = int(row.version), int(version)
    if new < current:
        raise Rejected(f"version {version} is older than the indexed version {row.version}")
    if new == current and row.status in FINAL_STATUSES and status not in FINAL_STATUSES:
        raise Rejected(
            f"{row.identifier} is {row.status} at version {row.version}; it cannot become {status}"
        )
