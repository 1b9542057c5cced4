"""Seal use cases: make seals (GB/T 38540 v4), manage their lifecycle, stamp PDFs and JSON data.

Every change and every stamp is recorded with its audit event in one transaction.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import rfc8785
from asn1crypto import pem, tsp, x509
from sqlalchemy.exc import IntegrityError

from ca.service import REASONS, CAService, IssuedView
from core.clock import Clock
from core.der import serial_hex
from core.errors import DomainError, ErrorCode, ErrorKind, conflict, forbidden, invalid, not_found
from core.identity import credit_code_problem
from core.principal import Principal
from core.versioned import VersionedCache
from db.audit import event_row, record
from db.base import Database
from db.group_commit import GroupCommit
from db.truth import Topic, bump
from keys.service import KeyService
from seal_service import pdf as pdf_stamping
from seal_service import placements as placing
from seal_service import repo
from seal_service.models import Seal, SealMaker
from seal_service.pades import PadesLevel, PdfStampSpec
from seal_service.ses import StampBuilder, build_seal, data_hash
from seal_service.timestamps import LocalTimeStamper
from seal_service.views import SealView, seal_view

ISSUING_CA = {"sm2": "sm2-issuing", "rsa": "rsa-issuing"}
KEY_SPEC = {"sm2": "sm2", "rsa": "rsa-2048"}
SEAL_TYPES = {"organization": 1, "personal": 2}
STATUSES = ("active", "suspended", "revoked")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_IMAGE = 2 * 1024 * 1024
CANONICAL = "application/json;canonicalization=RFC8785"
log = logging.getLogger(__name__)


@dataclass
class _Made:
    """What a seal in the making has created so far, to undo on failure."""

    key_ref: str
    ca_id: str
    certificate: IssuedView | None = None


@dataclass(frozen=True)
class UsableSeal:
    id: str
    algorithm: str
    signer_ca_id: str


@dataclass(frozen=True)
class StampResult:
    ses_signature_der: bytes
    data_hash_hex: str


class SealService:
    def __init__(
        self,
        db: Database,
        keys: KeyService,
        ca: CAService,
        clock: Clock,
        region: str,
        seal_attribute_oid: str,
    ):
        self.db = db
        self.keys = keys
        self.ca = ca
        self.clock = clock
        self.region = region
        self.seal_attribute_oid = seal_attribute_oid
        # Seal state, stamp builders and PDF stampers, until a seal, key or CA changes in any process.
        self._cache: VersionedCache[tuple[str, str], object] = VersionedCache(
            db.generation.watch(Topic.SEALS, Topic.KEYS, Topic.CAS)
        )
        self._stamps = GroupCommit(db)  # stamp records of concurrent requests share a commit

    # ---- seal makers --------------------------------------------------------------------------

    def bootstrap(self, actor: str) -> bool:
        """Create the seal-maker key and certificate for each algorithm that lacks one."""
        created = False
        for algorithm in ISSUING_CA:
            with self.db.read() as s:
                exists = repo.maker(s, algorithm) is not None
            if not exists:
                self._create_maker(algorithm, actor)
                created = True
        return created

    def _create_maker(self, algorithm: str, actor: str) -> None:
        with self.db.unit_of_work() as s:
            key = self.keys.create(s, KEY_SPEC[algorithm], f"seal maker ({algorithm})", actor)
        spki = self.keys.signer(key.key_ref).public_key_info()
        subject = x509.Name.build(
            {
                "country_name": "CN",
                "organization_name": "LongTrust",
                "common_name": f"LongTrust Seal Maker ({algorithm.upper()})",
            },
            use_printable=False,
        )
        view = self.ca.issue_for_key(ISSUING_CA[algorithm], spki, subject, "seal-maker", actor)
        with self.db.unit_of_work() as s:
            repo.add_maker(s, algorithm, key.key_ref, _der(view.certificate_pem), self.clock.now())
            record(s, actor, "seal-maker.create", algorithm, key_ref=key.key_ref, serial=view.serial_hex)

    def makers(self) -> list[SealMaker]:
        with self.db.read() as s:
            return repo.makers(s)

    # ---- seals ----------------------------------------------------------------------------------

    def check_seal(
        self,
        *,
        owner_credit_code: str,
        seal_type: int | str,
        algorithm: str,
        image_png: bytes,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
        width_mm: int = 40,
        height_mm: int = 40,
    ) -> tuple[int, datetime, datetime]:
        """Refuse (invalid) a seal request that could not be made, before anyone approves it;
        returns (GB/T 38540 seal type, valid_from, valid_to) with the defaults filled in."""
        if algorithm not in ISSUING_CA:
            raise invalid("algorithm must be sm2 or rsa", ErrorCode.ALGORITHM)
        problem = credit_code_problem(owner_credit_code)
        if problem:
            raise invalid(problem, ErrorCode.CREDIT_CODE)
        kind = _seal_type(seal_type)
        if not image_png.startswith(PNG_MAGIC) or len(image_png) > MAX_IMAGE:
            raise invalid(f"the seal image must be a PNG of at most {MAX_IMAGE} bytes", ErrorCode.IMAGE)
        pdf_stamping.SealImage.from_png(image_png)  # decodes it: a corrupt PNG is refused here
        if not (5 <= width_mm <= 200 and 5 <= height_mm <= 200):
            raise invalid("seal width and height must be 5..200 mm", ErrorCode.SIZE)
        now = self.clock.now()
        valid_from = valid_from or now
        valid_to = valid_to or valid_from + timedelta(days=1825)
        if valid_from.tzinfo is None or valid_to.tzinfo is None:
            raise invalid("validity times need a time zone", ErrorCode.VALIDITY)
        if valid_to <= valid_from:
            raise invalid("valid_to must be after valid_from", ErrorCode.VALIDITY)
        return kind, valid_from, valid_to

    def create_seal(
        self,
        *,
        name: str,
        owner_credit_code: str,
        seal_type: int | str,
        algorithm: str,
        image_png: bytes,
        actor: str,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
        width_mm: int = 40,
        height_mm: int = 40,
        owner_name: str | None = None,
    ) -> SealView:
        """Make a seal signed by the seal maker (GB/T 38540); the checks of :meth:`check_seal` first."""
        kind, valid_from, valid_to = self.check_seal(
            owner_credit_code=owner_credit_code,
            seal_type=seal_type,
            algorithm=algorithm,
            image_png=image_png,
            valid_from=valid_from,
            valid_to=valid_to,
            width_mm=width_mm,
            height_mm=height_mm,
        )
        now = self.clock.now()
        maker = self._maker(algorithm)
        with self.db.unit_of_work() as s:
            key = self.keys.create(s, KEY_SPEC[algorithm], f"seal {name}", actor)
        made = _Made(key.key_ref, ISSUING_CA[algorithm])
        try:
            subject = x509.Name.build(
                {"country_name": "CN", "organization_name": owner_name or name, "common_name": name},
                use_printable=False,
            )
            days = max(1, min((valid_to - now).days + 1, 1825))
            spki = self.keys.signer(key.key_ref).public_key_info()
            made.certificate = self.ca.issue_for_key(
                made.ca_id, spki, subject, "seal-signer", actor, owner_credit_code, days
            )
            fields = dict(
                name=name,
                owner_credit_code=owner_credit_code,
                type=kind,
                algorithm=algorithm,
                image_png=image_png,
                width_mm=width_mm,
                height_mm=height_mm,
                valid_from=valid_from,
                valid_to=valid_to,
                status="active",
                signer_key_ref=key.key_ref,
                signer_ca_id=made.ca_id,
                signer_certificate_der=_der(made.certificate.certificate_pem),
                created_by=actor,
                created_at=now,
                updated_at=now,
            )
            seal_id = self._insert_seal(fields, maker, made.certificate.serial_hex)
        except BaseException:
            self._abandon(made, actor)
            raise
        return self.get(seal_id)

    def _insert_seal(self, fields: dict, maker: SealMaker, certificate_serial: str) -> str:
        """Sign the seal (GB/T 38540) under the next free esID and commit it with its audit event;
        ``fields`` are the Seal row's columns but its id, esID and DER. Returns the seal id.
        Raises DomainError UNAVAILABLE when no esID can be had."""
        maker_signer = self.keys.signer(maker.key_ref)
        for _ in range(5):
            es_id = self._next_es_id()
            seal_der = build_seal(
                es_id=es_id,
                seal_type=fields["type"],
                name=fields["name"],
                signer_cert_der=fields["signer_certificate_der"],
                created=fields["created_at"],
                valid_from=fields["valid_from"],
                valid_to=fields["valid_to"],
                image_png=fields["image_png"],
                width_mm=fields["width_mm"],
                height_mm=fields["height_mm"],
                maker=maker_signer,
                maker_cert_der=maker.certificate_der,
            )
            seal_id = "seal-" + secrets.token_hex(8)
            try:
                with self.db.unit_of_work() as s:
                    repo.add_seal(s, seal_id, es_id, seal_der, fields)
                    record(
                        s,
                        fields["created_by"],
                        "seal.create",
                        seal_id,
                        es_id=es_id,
                        name=fields["name"],
                        owner=fields["owner_credit_code"],
                        algorithm=fields["algorithm"],
                        certificate_serial=certificate_serial,
                    )
                return seal_id
            except IntegrityError:
                continue  # another worker took this esID; draw the next one
        raise DomainError(
            ErrorKind.UNAVAILABLE, "could not allocate a seal code; retry", code=ErrorCode.ES_ID
        )

    def _abandon(self, made: _Made, actor: str) -> None:
        """Undo a seal that failed half-made: its certificate is revoked (RFC 5280
        cessationOfOperation) and its key disabled, each audited, so nothing usable is left.
        A failure here is logged and leaves the original error to propagate."""
        if made.certificate is not None:
            try:
                self.ca.revoke(made.ca_id, made.certificate.serial_hex, "cessationOfOperation", actor)
            except Exception:
                log.exception(
                    "could not revoke certificate %s of an unmade seal", made.certificate.serial_hex
                )
        try:
            with self.db.unit_of_work() as s:
                self.keys.disable(s, made.key_ref, actor, "seal creation failed")
        except Exception:
            log.exception("could not disable key %s of an unmade seal", made.key_ref)

    def _next_es_id(self) -> str:
        with self.db.read() as s:
            last = repo.last_es_id(s, self.region)
        sequence = int(last[6:]) + 1 if last else 1
        if sequence >= 10**8:
            raise DomainError(
                ErrorKind.UNAVAILABLE, "seal codes for this region are exhausted", code=ErrorCode.ES_ID
            )
        return f"{self.region}{sequence:08d}"

    def _maker(self, algorithm: str) -> SealMaker:
        with self.db.read() as s:
            maker = repo.maker(s, algorithm)
        if maker is None:
            raise DomainError(
                ErrorKind.UNAVAILABLE,
                f"no {algorithm} seal maker: run `longtrust init`",
                code=ErrorCode.NO_SEAL_MAKER,
            )
        return maker

    def get(self, seal_id: str) -> SealView:
        with self.db.read() as s:
            seal = repo.seal(s, seal_id)
        if seal is None:
            raise not_found(f"no seal {seal_id!r}")
        return seal_view(seal)

    def set_status(self, seal_id: str, status: str, actor: str, reason: str = "") -> SealView:
        if status not in STATUSES:
            raise invalid(f"status must be one of {', '.join(STATUSES)}", ErrorCode.STATUS)
        with self.db.unit_of_work() as s:
            seal = repo.seal(s, seal_id)
            if seal is None:
                raise not_found(f"no seal {seal_id!r}")
            if seal.status == "revoked":
                raise conflict("a revoked seal stays revoked", ErrorCode.SEAL_REVOKED)
            if seal.status == status:
                raise conflict(f"seal is already {status}", ErrorCode.NO_CHANGE)
            old, seal.status, seal.updated_at = seal.status, status, self.clock.now()
            record(s, actor, f"seal.{status}", seal_id, previous=old, reason=reason)
            bump(s, Topic.SEALS)
        if status == "revoked":
            # RFC 5280 reason names reach the certificate as they are; free text is kept in the audit.
            cert_reason = reason if reason in REASONS else "cessationOfOperation"
            self.ca.revoke(seal.signer_ca_id, _serial(seal.signer_certificate_der), cert_reason, actor)
        return self.get(seal_id)

    # ---- stamping -------------------------------------------------------------------------------

    def _usable(self, seal_id: str, principal: Principal) -> UsableSeal:
        """The seal if this principal may stamp with it now (its state is cached until any seal
        changes in any process). Raises FORBIDDEN, NOT_FOUND or CONFLICT (suspended, revoked, expired)."""
        if seal_id not in principal.seals:
            raise forbidden(f"token {principal.name!r} is not granted seal {seal_id}")
        status, valid_from, valid_to, algorithm, signer_ca_id = self._cache.get_or_load(
            ("state", seal_id), lambda: self._state(seal_id)
        )
        now = self.clock.now()
        if status != "active":
            raise conflict(f"seal {seal_id} is {status}: it stamps nothing", ErrorCode(f"seal-{status}"))
        if not valid_from <= now <= valid_to:
            raise conflict(
                f"seal {seal_id} is not valid now ({valid_from:%Y-%m-%d} to {valid_to:%Y-%m-%d})",
                ErrorCode.SEAL_EXPIRED,
            )
        return UsableSeal(seal_id, algorithm, signer_ca_id)

    def _state(self, seal_id: str) -> tuple:
        with self.db.read() as s:
            state = repo.stamping_state(s, seal_id)
        if state is None:
            raise not_found(f"no seal {seal_id!r}")
        return state

    def check_usable(self, seal_id: str, principal: Principal) -> None:
        """DomainError (forbidden, not-found, conflict) unless ``principal`` may stamp with the seal now."""
        self._usable(seal_id, principal)

    def _full(self, seal_id: str) -> Seal:
        with self.db.read() as s:
            return repo.seal(s, seal_id)

    def stamp_data(
        self,
        seal_id: str,
        document: dict,
        principal: Principal,
        property_id: str = "",
        with_timestamp: bool = False,
    ) -> StampResult:
        """A v4 SES_Signature over the RFC 8785 canonical JSON of ``document``."""
        seal = self._usable(seal_id, principal)
        try:
            data = rfc8785.dumps(document)
        except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
            raise invalid(f"the document cannot be canonicalised (RFC 8785): {exc}", ErrorCode.JSON) from None
        property_info = f"{CANONICAL};id={property_id}" if property_id else CANONICAL
        if not property_info.isascii():
            raise invalid("the document id must be ASCII", ErrorCode.PROPERTY_INFO)
        builder = self._builder(seal)
        timestamper = self._ses_timestamper(seal.algorithm) if with_timestamp else None
        der, digest = builder.stamp(data, property_info, self.clock.now(), timestamper)
        self._record_stamp(seal, "data", digest.hex(), None, principal)
        return StampResult(der, digest.hex())

    def stamp_pdf(
        self,
        seal_id: str,
        pdf: bytes,
        principal,
        *,
        page: int = 0,
        x: float = 72,
        y: float = 72,
        level: str | PadesLevel = PadesLevel.B_B,
        placements: list | None = None,
    ) -> bytes:
        """PAdES stamp(s) at ``level`` (PadesLevel or its name): at page/x/y (points), or at each of
        ``placements`` (seal_service.placements)."""
        level = PadesLevel.parse(level)
        seal = self._usable(seal_id, principal)
        digest = self._stamper(seal).pyhanko_signer.digest_algorithm
        spec = PdfStampSpec(
            level=level,
            timestamper=LocalTimeStamper(self.ca.timestamp, digest) if level.timestamped else None,
            validation_context=self.validation_context(seal.signer_ca_id)
            if level.with_validation_data
            else None,
        )
        chosen = placements or [placing.position(page, x, y)]
        out = self._stamp_pdf_placements(seal, pdf, chosen, spec)
        self._record_stamp(seal, "pdf", hashlib.sha256(pdf).hexdigest(), level.value, principal)
        return out

    def _stamp_pdf_placements(
        self, seal: UsableSeal, pdf: bytes, placements: list, spec: PdfStampSpec
    ) -> bytes:
        default = self._stamper(seal)  # cached per seal: the usual stamp reads nothing more
        seal_mm = (default.width_pt / placing.PT_PER_MM, default.height_pt / placing.PT_PER_MM)
        stamps = placing.plan_pdf(pdf, placements, seal_mm)

        def stamper_for(part, size_mm):
            if part is None and size_mm is None:
                return default
            row = self._full(seal.id)
            image = placing.image_slice(row.image_png, *part) if part else row.image_png
            chain = self.ca.context(row.signer_ca_id).chain
            signer = self.keys.signer(row.signer_key_ref)
            width, height = size_mm or seal_mm
            return pdf_stamping.SealStamper(
                signer,
                row.signer_certificate_der,
                chain,
                image,
                width,
                height,
                seal_der=row.seal_der,
                seal_attribute_oid=self.seal_attribute_oid,
            )

        return placing.stamp_pdf(pdf, stamps, stamper_for, spec)

    def stamp_ofd(
        self, seal_id: str, ofd: bytes, principal: Principal, placements: list | None = None
    ) -> bytes:
        """The OFD stamped at each placement (default: page 0, 20 mm, 20 mm); see seal_service.placements."""
        seal = self._usable(seal_id, principal)
        row, builder, now = self._full(seal_id), self._builder(seal), self.clock.now()
        out = placing.stamp_ofd(
            ofd,
            placements or [placing.position(0, 20, 20)],
            seal_der=row.seal_der,
            seal_mm=(row.width_mm, row.height_mm),
            algorithm=builder.signer.algorithm,
            sign=lambda xml, where: builder.stamp(xml, where, now)[0],
            at=now,
        )
        self._record_stamp(seal, "ofd", hashlib.sha256(ofd).hexdigest(), None, principal)
        return out

    def validation_context(self, ca_id: str):
        """Trust root, chain and fresh CRLs of our own hierarchy, for LTV embedding."""
        from pyhanko_certvalidator import ValidationContext

        from verify.sm2_validation import SM2_CONTEXT_KWARGS

        ctx = self.ca.context(ca_id)
        chain = [x509.Certificate.load(c) for c in ctx.chain]
        root_id = ctx.parent_id or ca_id
        root = self.ca.context(root_id).certificate
        crls = self.ca.current_crls(ca_id) + (self.ca.current_crls(root_id) if root_id != ca_id else [])
        tsa = [c.tsa_cert for c in (ctx,) if c.tsa_cert is not None]
        return ValidationContext(
            trust_roots=[root], other_certs=chain + tsa, crls=crls, allow_fetching=False, **SM2_CONTEXT_KWARGS
        )

    @contextmanager
    def stamps_together(self) -> Iterator[None]:
        """Scope for data stamps answered one after another on one thread (core.threads.BatchThreads):
        one generation read made as it begins (db.truth) and one commit of their records as it ends
        (db.group_commit). Raises what that read or commit raises."""
        with self.db.generation.shared_read(), self._stamps.gathered():
            yield

    def one_stamp(self) -> AbstractContextManager[None]:
        """One stamp inside :meth:`stamps_together`: its record goes if it fails."""
        return self._stamps.one_of_gathered()

    def _record_stamp(
        self, seal: UsableSeal, kind: str, document_hash: str, level: str | None, principal
    ) -> None:
        """Commit the stamp's record and audit event (one transaction, shared with the stamps that
        other threads of this process record at the same time: db.group_commit)."""
        stamp = repo.stamp_row(seal.id, kind, document_hash, level, principal.actor, self.clock.now())
        audit = event_row(
            principal.actor, "seal.stamp", seal.id, kind=kind, document_hash=document_hash, level=level
        )
        self._stamps.write([stamp, audit])

    def _builder(self, usable: UsableSeal) -> StampBuilder:
        return self._cache.get_or_load(("builder", usable.id), lambda: self._new_builder(usable.id))

    def _new_builder(self, seal_id: str) -> StampBuilder:
        seal = self._full(seal_id)
        return StampBuilder(seal.seal_der, self.keys.signer(seal.signer_key_ref), seal.signer_certificate_der)

    def _stamper(self, usable: UsableSeal) -> pdf_stamping.SealStamper:
        return self._cache.get_or_load(("stamper", usable.id), lambda: self._new_stamper(usable.id))

    def _new_stamper(self, seal_id: str) -> pdf_stamping.SealStamper:
        seal = self._full(seal_id)
        return pdf_stamping.SealStamper(
            self.keys.signer(seal.signer_key_ref),
            seal.signer_certificate_der,
            self.ca.context(seal.signer_ca_id).chain,
            seal.image_png,
            seal.width_mm,
            seal.height_mm,
            seal_der=seal.seal_der,
            seal_attribute_oid=self.seal_attribute_oid,
        )

    def _ses_timestamper(self, algorithm: str):
        def token(signature: bytes) -> bytes:
            digest = "sm3" if algorithm == "sm2" else "sha256"
            imprint = data_hash("sm2-sm3" if algorithm == "sm2" else "rsa-pkcs1-sha256", signature)
            query = tsp.TimeStampReq(
                {
                    "version": "v1",
                    "message_imprint": {"hash_algorithm": {"algorithm": digest}, "hashed_message": imprint},
                    "cert_req": True,
                }
            )
            reply = tsp.TimeStampResp.load(self.ca.timestamp(query.dump()))
            return reply["time_stamp_token"].dump()

        return token


def _seal_type(value: int | str) -> int:
    if isinstance(value, str):
        if value.isdigit():
            value = int(value)
        elif value in SEAL_TYPES:
            return SEAL_TYPES[value]
        else:
            raise invalid(
                f"seal type must be an integer or one of {', '.join(SEAL_TYPES)}", ErrorCode.SEAL_TYPE
            )
    if not 1 <= value <= 99:
        raise invalid("seal type must be 1..99", ErrorCode.SEAL_TYPE)
    return value


def _der(pem_text: str) -> bytes:
    return pem.unarmor(pem_text.encode())[2]


def _serial(cert_der: bytes) -> str:
    return serial_hex(x509.Certificate.load(cert_der).serial_number)
