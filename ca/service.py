"""CA use cases: hierarchy bootstrap, issuance (lint → intent → sign → check → store), revocation,
CRLs, OCSP and time stamps. Each state change commits with its audit event."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from asn1crypto import pem, x509
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from ca import crl as crl_builder
from ca import ocsp, tsa
from ca.builder import Issuer, TbsTemplate, random_serial
from ca.csr import parse_csr
from ca.issuance_core import IssuanceCore, IssuanceRequest, IssuingCa
from ca.models import CertificateAuthority, CertificatePair, IssuedCertificate, PublishedCrl
from core.clock import Clock
from core.errors import DomainError, conflict, forbidden, invalid, not_found
from core.versioned import VersionedCache
from db.audit import record
from db.base import Database, database_unavailable
from db.truth import Topic, bump
from keys.service import KeyService
from keys.signer import Signer
from policies.ceremony import CaSpec, Ceremony, ca_spec
from policies.profiles import Profile, key_type

REASONS = (
    "unspecified",
    "keyCompromise",
    "cACompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "privilegeWithdrawn",
    "aACompromise",
)
CRL_VALIDITY = timedelta(days=1)
OCSP_VALIDITY = timedelta(hours=12)
OCSP_REFRESH = timedelta(hours=1)
INTENT_TIMEOUT = timedelta(minutes=10)
_NAME_KEYS = {
    "C": "country_name",
    "ST": "state_or_province_name",
    "L": "locality_name",
    "O": "organization_name",
    "OU": "organizational_unit_name",
    "CN": "common_name",
}

log = logging.getLogger("longtrust.ca")


def serial_hex(serial: int) -> str:
    return serial.to_bytes((serial.bit_length() + 7) // 8 or 1, "big").hex()


def parse_serial(value: str) -> int:
    try:
        serial = int(value.removeprefix("0x").replace(":", ""), 16)
    except ValueError:
        raise invalid(f"{value!r} is not a hexadecimal serial number", "bad-serial") from None
    if serial <= 0:
        raise invalid("serial numbers are positive", "bad-serial")
    return serial


def to_pem(der: bytes, kind: str = "CERTIFICATE") -> str:
    return pem.armor(kind, der).decode()


@dataclass
class CaContext:
    """A loaded CA: certificate, signer and per-profile TBS templates (cached per process)."""

    id: str
    name: str
    algorithm: str
    parent_id: str | None
    certificate: x509.Certificate
    signer: Signer
    chain: list[bytes]  # this CA up to, not including, the root
    responder: ocsp.Responder | None
    responder_cert: x509.Certificate | None
    tsa_cert: x509.Certificate | None
    tsa_signer: Signer | None
    crl_shards: int
    status: str
    templates: dict[tuple[str, int], TbsTemplate] = field(default_factory=dict)

    @property
    def issuer(self) -> Issuer:
        return Issuer.from_certificate(self.id, self.certificate)

    @property
    def issuing(self) -> IssuingCa:
        """This CA as the issuance core sees it (sharing the per-process TBS templates)."""
        return IssuingCa(self.id, self.certificate, self.signer, self.crl_shards, self.templates)

    def key_material(self) -> tuple[bytes, bytes]:
        return ocsp.issuer_key_material(self.certificate)


@dataclass(frozen=True)
class IssuedView:
    ca_id: str
    serial_hex: str
    status: str
    certificate_pem: str | None
    chain_pem: str
    revoked_at: datetime | None = None
    reason: str | None = None


class CAService:
    def __init__(
        self,
        db: Database,
        keys: KeyService,
        profiles: dict[str, Profile],
        ceremony: Ceremony,
        public_url: str,
        clock: Clock,
    ):
        self.db = db
        self.keys = keys
        self.profiles = profiles
        self.ceremony = ceremony
        self.public_url = public_url.rstrip("/")
        self.clock = clock
        self.issuance = IssuanceCore(self.public_url)
        # Loaded CAs (and the tuple of all CA ids under the key None), until a CA or key changes.
        self._contexts: VersionedCache = VersionedCache(db.generation.watch(Topic.CAS, Topic.KEYS))
        # Pre-signed OCSP answers by request bytes and by (CA, CertID, status), until any status changes.
        self._ocsp_answers: VersionedCache[object, tuple[bytes, datetime]] = VersionedCache(
            db.generation.watch(Topic.CAS, Topic.KEYS, Topic.REVOCATIONS), max_items=100_000
        )

    # ---- hierarchy -------------------------------------------------------------------------

    def bootstrap(self, actor: str) -> bool:
        """Create every CA of the ceremony that does not exist yet; True if any was created."""
        created = False
        for spec in self.ceremony.cas:
            with self.db.read() as s:
                exists = s.get(CertificateAuthority, spec.id) is not None
            if not exists:
                self.create_ca(spec, actor)
                created = True
        return created

    def create_ca(self, spec: CaSpec, actor: str) -> CaContext:
        profile_name = "issuing-ca" if spec.parent else "root-ca"
        profile = dataclasses.replace(self.profiles[profile_name], path_length=spec.path_length)
        subject = _name(spec.subject)
        now = self.clock.now()
        with self.db.unit_of_work() as s:
            if s.get(CertificateAuthority, spec.id) is not None:
                raise conflict(f"CA {spec.id} already exists", "ca-exists")
            key = self.keys.create(s, spec.key, f"CA {spec.id}", actor)
            signer = self.keys.signer(key.key_ref)
            spki = signer.public_key_info()
            if spec.parent:
                parent = self.context(spec.parent)
                not_after = min(now + timedelta(days=spec.validity_days), parent.certificate.not_valid_after)
                request = IssuanceRequest(profile, subject, spki, now, not_after)
                cert_der = self._sign_into(s, parent, request, actor)
            else:
                not_after = now + timedelta(days=spec.validity_days)
                request = IssuanceRequest(profile, subject, spki, now, not_after)
                cert_der = self.issuance.self_signed(spec.id, signer, request)
            s.add(
                CertificateAuthority(
                    id=spec.id,
                    name=spec.name,
                    algorithm=spec.algorithm,
                    parent_id=spec.parent,
                    key_ref=key.key_ref,
                    certificate_der=cert_der,
                    crl_shards=spec.crl_shards,
                    status="active",
                    created_at=now,
                )
            )
            record(s, actor, "ca.create", spec.id, name=spec.name, parent=spec.parent, key_ref=key.key_ref)
            bump(s, Topic.CAS)
        self.renew_responder(spec.id, actor)
        if spec.tsa_subject:
            self._create_tsa(spec, actor)
        return self.context(spec.id)

    # ---- checks for operations under dual control (app/approvals.py runs them) ----------------

    def check_ca_request(self, raw: dict) -> CaSpec:
        """The spec of a new sub-CA, checked before anyone approves it: invalid (bad definition, no
        parent, a parent with path length 0) or conflict (the id exists)."""
        known = {c.id for c in self.list_cas()}
        try:
            spec = ca_spec(raw, known)
        except (KeyError, TypeError, ValueError) as exc:
            raise invalid(f"bad CA definition: {exc}", "ca-spec") from None
        if spec.parent is None:
            raise invalid("new CAs are subordinate: name a parent CA", "ca-spec")
        if spec.id in known:
            raise conflict(f"CA {spec.id} already exists", "ca-exists")
        if self.context(spec.parent).certificate.max_path_length == 0:
            raise invalid(f"CA {spec.parent} may not have subordinate CAs (path length 0)", "ca-spec")
        return spec

    def check_ca_revocation(self, ca_id: str, reason: str) -> None:
        """Refuse a revocation that cannot be carried out: not_found, invalid (a root, a bad reason)."""
        ctx = self.context(ca_id)
        if ctx.parent_id is None:
            raise invalid("a root is withdrawn from trust lists, not revoked", "root")
        if reason not in REASONS:
            raise invalid(f"unknown revocation reason {reason!r}; one of {', '.join(REASONS)}", "bad-reason")

    def revoke_ca(self, ca_id: str, reason: str, actor: str) -> None:
        """Revoke a subordinate CA's certificate at its parent and stop it issuing anything
        (after :meth:`check_ca_revocation` and a second operator's approval)."""
        self.check_ca_revocation(ca_id, reason)
        ctx = self.context(ca_id)
        with self.db.unit_of_work() as s:
            s.get(CertificateAuthority, ca_id).status = "revoked"
            record(s, actor, "ca.revoke", ca_id, reason=reason)
            bump(s, Topic.CAS)
        self._revoke_row(ctx.parent_id, serial_hex(ctx.certificate.serial_number), reason, actor)

    def _create_tsa(self, spec: CaSpec, actor: str) -> None:
        ctx = self.context(spec.id)
        now = self.clock.now()
        with self.db.unit_of_work() as s:
            key = self.keys.create(s, spec.key, f"TSA of {spec.id}", actor)
            spki = self.keys.signer(key.key_ref).public_key_info()
            not_after = min(
                now + timedelta(days=self.ceremony.tsa_validity_days), ctx.certificate.not_valid_after
            )
            subject = _name({"O": "LongTrust", **spec.tsa_subject})
            request = IssuanceRequest(self.profiles["tsa"], subject, spki, now, not_after)
            cert_der = self._sign_into(s, ctx, request, actor)
            row = s.get(CertificateAuthority, spec.id)
            row.tsa_key_ref, row.tsa_certificate_der = key.key_ref, cert_der
            record(s, actor, "ca.tsa-create", spec.id, key_ref=key.key_ref)
            bump(s, Topic.CAS)

    def renew_responder(self, ca_id: str, actor: str) -> None:
        """Issue a fresh delegated OCSP responder certificate (short-lived, id-pkix-ocsp-nocheck)."""
        ctx = self.context(ca_id)
        now = self.clock.now()
        with self.db.unit_of_work() as s:
            row = s.get(CertificateAuthority, ca_id)
            old_key = row.ocsp_key_ref
            key = self.keys.create(s, _key_spec(ctx), f"OCSP responder of {ca_id}", actor)
            spki = self.keys.signer(key.key_ref).public_key_info()
            not_after = min(
                now + timedelta(days=self.ceremony.ocsp_validity_days), ctx.certificate.not_valid_after
            )
            subject = _name({"O": "LongTrust", "CN": f"{ctx.name} OCSP Responder"})
            request = IssuanceRequest(self.profiles["ocsp-responder"], subject, spki, now, not_after)
            cert_der = self._sign_into(s, ctx, request, actor)
            row.ocsp_key_ref, row.ocsp_certificate_der = key.key_ref, cert_der
            if old_key:
                self.keys.disable(s, old_key, actor, "responder renewed")
            record(s, actor, "ca.responder-renew", ca_id, key_ref=key.key_ref)
            bump(s, Topic.CAS)

    def self_check(self) -> list[str]:
        """Problems that must stop the service: CA keys not matching certificates, missing key usages."""
        problems = []
        with self.db.read() as s:
            ids = list(s.scalars(select(CertificateAuthority.id)))
        for ca_id in ids:
            try:
                ctx = self.context(ca_id)
            except (DomainError, ValueError) as exc:
                problems.append(f"CA {ca_id}: {exc}")
                continue
            if (
                ctx.signer.public_key_info()["public_key"].dump()
                != ctx.certificate.public_key["public_key"].dump()
            ):
                problems.append(f"CA {ca_id}: its key does not match its certificate")
            usages = ctx.certificate.key_usage_value.native if ctx.certificate.key_usage_value else set()
            if not {"key_cert_sign", "crl_sign"} <= set(usages):
                problems.append(f"CA {ca_id}: certificate lacks keyCertSign/cRLSign")
        return problems

    def context(self, ca_id: str) -> CaContext:
        """The CA as the database has it now (cached until any CA or key changes, in any process).

        Raises DomainError NOT_FOUND for an unknown CA."""
        return self._contexts.get_or_load(ca_id, lambda: self._load_context(ca_id))

    def _load_context(self, ca_id: str) -> CaContext:
        with self.db.read() as s:
            row = s.get(CertificateAuthority, ca_id)
        if row is None:
            raise not_found(f"no CA {ca_id!r}")
        cert = x509.Certificate.load(row.certificate_der)
        chain = [] if row.parent_id is None else [row.certificate_der] + self.context(row.parent_id).chain
        responder = responder_cert = None
        if row.ocsp_key_ref:
            responder_cert = x509.Certificate.load(row.ocsp_certificate_der)
            responder = ocsp.Responder(responder_cert, self.keys.signer(row.ocsp_key_ref))
        return CaContext(
            id=row.id,
            name=row.name,
            algorithm=row.algorithm,
            parent_id=row.parent_id,
            certificate=cert,
            signer=self.keys.signer(row.key_ref),
            chain=chain,
            responder=responder,
            responder_cert=responder_cert,
            tsa_cert=x509.Certificate.load(row.tsa_certificate_der) if row.tsa_certificate_der else None,
            tsa_signer=self.keys.signer(row.tsa_key_ref) if row.tsa_key_ref else None,
            crl_shards=row.crl_shards,
            status=row.status,
        )

    def list_cas(self) -> list[CertificateAuthority]:
        with self.db.read() as s:
            return list(
                s.scalars(
                    select(CertificateAuthority).order_by(
                        CertificateAuthority.created_at, CertificateAuthority.id
                    )
                )
            )

    # ---- issuance ---------------------------------------------------------------------------

    def issue(
        self,
        ca_id: str,
        csr: bytes,
        profile_name: str,
        actor: str,
        credit_code: str | None = None,
        validity_days: int | None = None,
    ) -> IssuedView:
        """Certify the key of a PKCS#10 request (proof of possession checked) under a profile."""
        self.context(ca_id)
        self._profile(profile_name)
        request = parse_csr(csr)
        return self.issue_for_key(
            ca_id, request.public_key_info, request.subject, profile_name, actor, credit_code, validity_days
        )

    def issue_for_key(
        self,
        ca_id: str,
        spki,
        subject: x509.Name,
        profile_name: str,
        actor: str,
        credit_code: str | None = None,
        validity_days: int | None = None,
    ) -> IssuedView:
        """Certify a key we hold ourselves (keys/), e.g. a seal holder's, without a request."""
        ctx = self.context(ca_id)
        if ctx.status != "active":
            raise conflict(f"CA {ca_id} is {ctx.status}: it issues nothing", "ca-revoked")
        profile = self._profile(profile_name)
        kind = _key_kind(spki)
        allowed = {"sm2": {"sm2"}, "rsa": {"rsa", "ecdsa-p256"}}[ctx.algorithm]
        if kind not in allowed:
            raise invalid(
                f"CA {ca_id} signs only {ctx.algorithm.upper()}: it does not certify {kind} keys",
                "algorithm-not-signed",
            )
        problem = profile.key_problem(spki)
        if problem:
            raise invalid(problem, "key-policy")
        problems = profile.subject_problems(subject)
        if problems:
            raise invalid("; ".join(problems), "subject")
        if self._is_ca_key(spki):
            raise invalid("the request reuses a CA key", "key-reuse")
        if validity_days is not None and not 1 <= validity_days <= profile.max_validity_days:
            raise invalid(
                f"validity_days must be 1..{profile.max_validity_days} for {profile_name}", "validity"
            )
        now = self.clock.now()
        not_after = min(
            now + timedelta(days=validity_days or profile.max_validity_days), ctx.certificate.not_valid_after
        )
        request = IssuanceRequest(profile, subject, spki, now, not_after, credit_code)
        cert_der = self._sign_into(None, ctx, request, actor)
        return IssuedView(
            ca_id,
            serial_hex(x509.Certificate.load(cert_der).serial_number),
            "good",
            to_pem(cert_der),
            "".join(to_pem(c) for c in ctx.chain),
        )

    def _profile(self, name: str) -> Profile:
        profile = self.profiles.get(name)
        if profile is None or profile.ca:
            names = ", ".join(sorted(n for n, p in self.profiles.items() if not p.ca))
            raise invalid(f"unknown profile {name!r}; one of {names}", "unknown-profile")
        return profile

    def _writing(self, session):
        return contextlib.nullcontext(session) if session is not None else self.db.unit_of_work()

    def _sign_into(self, session, ctx: CaContext, request: IssuanceRequest, actor: str) -> bytes:
        """The issuance cycle: the core builds and lints, the intent is committed, the core signs
        exactly the linted TBS and checks it, the certificate is stored.

        With ``session`` the steps share the caller's session (CA set-up); without, intent and
        result are two units of work, so signing holds no write lock."""
        token = self.issuance.prepare(ctx.issuing, request)
        key, subject_text = serial_hex(token.serial), _subject_text(request.subject)
        profile_name = request.profile.name
        try:
            with self._writing(session) as s:
                # Core statements: this is the hot path of issuance, and ORM bookkeeping is not free.
                s.execute(
                    insert(IssuedCertificate.__table__),
                    [
                        {
                            "ca_id": ctx.id,
                            "serial_hex": key,
                            "shard": token.shard,
                            "profile": profile_name,
                            "subject": subject_text,
                            "credit_code": request.credit_code,
                            "status": "intent",
                            "tbs_der": token.tbs,
                            "not_before": token.not_before,
                            "not_after": token.not_after,
                            "requester": actor,
                            "created_at": request.now,
                        }
                    ],
                )
                record(s, actor, "certificate.sign-intent", f"{ctx.id}/{key}", profile=profile_name)
                s.commit()
        except IntegrityError:
            self.issuance.discard(token)
            if session is not None:
                session.rollback()
            raise conflict("serial collision; retry the request", "serial-collision") from None
        except BaseException:
            self.issuance.discard(token)
            raise
        cert_der = self.issuance.issue(token)  # outside any write lock when this is its own unit of work
        with self._writing(session) as s:
            s.execute(
                update(IssuedCertificate.__table__)
                .where(IssuedCertificate.ca_id == ctx.id, IssuedCertificate.serial_hex == key)
                .values(certificate_der=cert_der, status="good")
            )
            record(
                s,
                actor,
                "certificate.issue",
                f"{ctx.id}/{key}",
                profile=profile_name,
                subject=subject_text,
                credit_code=request.credit_code,
            )
        return cert_der

    def _is_ca_key(self, spki) -> bool:
        key = spki["public_key"].dump()
        return any(ctx.certificate.public_key["public_key"].dump() == key for ctx in self._all_contexts())

    # ---- status and revocation --------------------------------------------------------------

    def get(self, ca_id: str, serial: str) -> IssuedView:
        ctx = self.context(ca_id)
        with self.db.read() as s:
            row = self._row(s, ca_id, serial)
        return _view(row, ctx)

    def _row(self, session, ca_id: str, serial: str) -> IssuedCertificate:
        key = serial_hex(parse_serial(serial))
        row = session.scalars(
            select(IssuedCertificate).where(
                IssuedCertificate.ca_id == ca_id, IssuedCertificate.serial_hex == key
            )
        ).first()
        if row is None:
            raise not_found(f"CA {ca_id} has no certificate with serial {key}")
        return row

    def revoke(self, ca_id: str, serial: str, reason: str, actor: str) -> IssuedView:
        """Revoke an end-entity certificate; CA certificates need dual control (request_ca_revocation)."""
        if reason not in REASONS:
            raise invalid(f"unknown revocation reason {reason!r}; one of {', '.join(REASONS)}", "bad-reason")
        with self.db.read() as s:
            profile = self._row(s, ca_id, serial).profile
        if profile in ("issuing-ca", "root-ca"):
            raise forbidden("revoking a CA certificate needs dual control: POST /api/v1/cas/{ca_id}/revoke")
        view = self._revoke_row(ca_id, serial, reason, actor)
        with self.db.read() as s:  # a signing certificate's encryption certificate goes with it
            paired = s.scalar(
                select(CertificatePair.encryption_serial_hex).where(
                    CertificatePair.ca_id == ca_id, CertificatePair.signing_serial_hex == view.serial_hex
                )
            )
        if paired and self.get(ca_id, paired).status != "revoked":
            self._revoke_row(ca_id, paired, reason, actor)
        return view

    def _revoke_row(self, ca_id: str, serial: str, reason: str, actor: str) -> IssuedView:
        ctx = self.context(ca_id)
        with self.db.unit_of_work() as s:
            row = self._row(s, ca_id, serial)
            if row.status == "revoked":
                raise conflict(f"certificate {row.serial_hex} is already revoked", "already-revoked")
            row.status, row.revoked_at, row.revocation_reason = "revoked", self.clock.now(), reason
            record(s, actor, "certificate.revoke", f"{ca_id}/{row.serial_hex}", reason=reason)
            bump(s, Topic.REVOCATIONS)
        self.publish_crl(ca_id, row.shard, actor)
        return _view(row, ctx)

    # ---- CRLs ---------------------------------------------------------------------------------

    def publish_crl(self, ca_id: str, shard: int = 0, actor: str = "system:crl") -> bytes:
        ctx = self.context(ca_id)
        now = self.clock.now()
        with self.db.unit_of_work() as s:
            if self.db.is_postgres:
                s.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"crl:{ca_id}:{shard}"})
            number = (
                s.scalar(
                    select(func.max(PublishedCrl.number)).where(
                        PublishedCrl.ca_id == ca_id, PublishedCrl.shard == shard
                    )
                )
                or 0
            ) + 1
            entries = s.execute(
                select(
                    IssuedCertificate.serial_hex,
                    IssuedCertificate.revoked_at,
                    IssuedCertificate.revocation_reason,
                ).where(
                    IssuedCertificate.ca_id == ca_id,
                    IssuedCertificate.shard == shard,
                    IssuedCertificate.status == "revoked",
                )
            ).all()
            der = crl_builder.build_crl(
                ctx.certificate,
                ctx.signer,
                ((int(h, 16), at, reason) for h, at, reason in entries),
                number,
                now,
                now + CRL_VALIDITY,
                idp_url=self.crl_url(ca_id, shard) if ctx.crl_shards > 1 else None,
            )
            s.add(
                PublishedCrl(
                    ca_id=ca_id,
                    shard=shard,
                    number=number,
                    this_update=now,
                    next_update=now + CRL_VALIDITY,
                    der=der,
                )
            )
            s.execute(
                PublishedCrl.__table__.delete().where(
                    PublishedCrl.ca_id == ca_id, PublishedCrl.shard == shard, PublishedCrl.number < number - 1
                )
            )
            record(s, actor, "crl.publish", f"{ca_id}/{shard}", number=number, entries=len(entries))
            bump(s, Topic.REVOCATIONS)
        return der

    def crl_url(self, ca_id: str, shard: int = 0) -> str:
        return self.issuance.crl_url(ca_id, shard)

    def current_crls(self, ca_id: str) -> list[bytes]:
        """Every shard's current CRL: what a relying party needs for any certificate of this CA."""
        return [self.current_crl(ca_id, shard) for shard in range(self.context(ca_id).crl_shards)]

    def current_crl(self, ca_id: str, shard: int = 0) -> bytes:
        """The newest CRL, published afresh when none exists or it is past half its validity."""
        ctx = self.context(ca_id)
        if not 0 <= shard < ctx.crl_shards:
            raise not_found(f"CA {ca_id} has no CRL shard {shard}")
        with self.db.read() as s:
            latest = s.scalars(
                select(PublishedCrl)
                .where(PublishedCrl.ca_id == ca_id, PublishedCrl.shard == shard)
                .order_by(PublishedCrl.number.desc())
                .limit(1)
            ).first()
        if latest is None or latest.this_update + CRL_VALIDITY / 2 <= self.clock.now():
            return self.publish_crl(ca_id, shard)
        return latest.der

    def revoke_stale_intents(self, actor: str = "system:scheduler") -> int:
        """Revoke every certificate whose intent is older than INTENT_TIMEOUT without a certificate:
        its signing outcome is unknown (a worker died between intent and result), so it may exist,
        and it must never answer OCSP ``good``. Returns how many were revoked; their CRLs are
        published afresh."""
        now = self.clock.now()
        table = IssuedCertificate.__table__
        with self.db.unit_of_work() as s:
            stale = s.execute(
                update(table)
                .where(table.c.status == "intent", table.c.created_at < now - INTENT_TIMEOUT)
                .values(status="revoked", revoked_at=now, revocation_reason="unspecified")
                .returning(table.c.ca_id, table.c.serial_hex, table.c.shard)
            ).all()
            if not stale:
                return 0
            for ca_id, key, _ in stale:
                record(s, actor, "certificate.revoke", f"{ca_id}/{key}", reason="unspecified", intent=True)
            bump(s, Topic.REVOCATIONS)
        for ca_id, shard in sorted({(ca_id, shard) for ca_id, _, shard in stale}):
            self.publish_crl(ca_id, shard, actor)
        return len(stale)

    def maintain(self, actor: str = "system:scheduler") -> None:
        """Periodic work: refresh CRLs, renew responder certificates close to expiry."""
        renew_before = timedelta(days=self.ceremony.ocsp_renew_before_days)
        self.revoke_stale_intents(actor)
        for ca in self.list_cas():
            self.current_crls(ca.id)
            responder_cert = (
                x509.Certificate.load(ca.ocsp_certificate_der) if ca.ocsp_certificate_der else None
            )
            if responder_cert is None or responder_cert.not_valid_after - renew_before <= self.clock.now():
                self.renew_responder(ca.id, actor)

    # ---- OCSP ---------------------------------------------------------------------------------

    def ocsp(self, request_der: bytes) -> bytes:
        """An OCSP response for any input: malformedRequest for garbage, tryLater while the database
        cannot be reached (RFC 6960 §4.2.1), never an exception."""
        try:
            return self._ocsp(request_der)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            log.warning("OCSP answered tryLater: the database cannot be reached")
            return ocsp.try_later()

    def _ocsp(self, request_der: bytes) -> bytes:
        """The OCSP answer from the database (or its caches).

        Requests without a nonce for one known certificate get pre-signed responses, kept until any
        certificate's status, a CA or a key changes in any process (or OCSP_REFRESH passes)."""
        now = self.clock.now()
        hit, at = self._ocsp_answers.lookup(request_der)
        if hit is not None and hit[1] > now:
            return hit[0]
        try:
            request = ocsp.parse_request(request_der)
        except DomainError:
            return ocsp.malformed_request()
        ctx = self._ca_for_cert_id(request[0])
        if ctx is None or ctx.responder is None:
            return ocsp.unauthorized()
        statuses = [
            self._status_for(ctx, item) if self._ca_for_cert_id(item) is ctx else None for item in request
        ]
        if request.nonce is None and len(request) == 1:
            der = self._presigned(ctx, request[0], statuses[0], now)
            if statuses[0] is not None:  # "unknown" may become "good" without any status change
                self._ocsp_answers.put(request_der, (der, now + OCSP_REFRESH), at)
            return der
        singles = [_single(item, status, now) for item, status in zip(request, statuses, strict=True)]
        return ctx.responder.sign(singles, now, request.nonce)

    def _presigned(self, ctx: CaContext, item: ocsp.CertIdRequest, status, now: datetime) -> bytes:
        key = (ctx.id, item.der, status)
        hit, at = self._ocsp_answers.lookup(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        der = ctx.responder.sign([_single(item, status, now)], now)
        self._ocsp_answers.put(key, (der, now + OCSP_REFRESH), at)
        return der

    def _status_for(self, ctx: CaContext, item: ocsp.CertIdRequest):
        with self.db.read() as s:
            row = s.execute(
                select(
                    IssuedCertificate.status,
                    IssuedCertificate.revoked_at,
                    IssuedCertificate.revocation_reason,
                ).where(
                    IssuedCertificate.ca_id == ctx.id, IssuedCertificate.serial_hex == serial_hex(item.serial)
                )
            ).first()
        if row is None:
            return None
        # An intent whose signing outcome is unknown may exist as a certificate: answer good until revoked.
        return ("good" if row[0] == "intent" else row[0], row[1], row[2])

    def _ca_for_cert_id(self, item: ocsp.CertIdRequest) -> CaContext | None:
        for ca in self._all_contexts():
            if ocsp.match_cert_id(item, *ca.key_material()):
                return ca
        return None

    def _all_contexts(self) -> list[CaContext]:
        """Every CA, as the database has it now."""
        ids = self._contexts.get_or_load(None, lambda: tuple(ca.id for ca in self.list_cas()))
        return [self.context(ca_id) for ca_id in ids]

    # ---- time stamps --------------------------------------------------------------------------

    def timestamp(self, query_der: bytes) -> bytes:
        """An RFC 3161 reply for any input: a rejection with failInfo for bad queries."""
        try:
            query = tsa.parse_query(query_der)
            family = tsa.choose(query)
            ctx = next((c for c in self._all_contexts() if c.algorithm == family and c.tsa_signer), None)
            if ctx is None:
                return tsa.rejection("badAlg", f"no {family} time-stamping unit is configured")
            return tsa.build_reply(
                query,
                ctx.tsa_cert,
                ctx.tsa_signer,
                serial=random_serial(),
                gen_time=self.clock.now(),
                policy_oid=self.ceremony.tsa_policy_oid,
                accuracy_ms=self.ceremony.tsa_accuracy_ms,
                include_cert=query.cert_req,
                certs=[x509.Certificate.load(c) for c in ctx.chain],
            )
        except DomainError as exc:
            return tsa.rejection(exc.code, exc.detail)


def _single(item: ocsp.CertIdRequest, status, now: datetime) -> bytes:
    state, revoked_at, reason = status or ("unknown", None, None)
    return ocsp.single_response(
        ocsp.SingleStatus(item, state, revoked_at, reason, now, now + OCSP_VALIDITY), now
    )


def _key_kind(spki) -> str:
    try:
        return key_type(spki)[0]
    except ValueError as exc:
        raise invalid(str(exc), "key-policy") from None


def _key_spec(ctx: CaContext) -> str:
    return "sm2" if ctx.algorithm == "sm2" else "rsa-2048"


def _name(fields: dict[str, str]) -> x509.Name:
    order = ["C", "ST", "L", "O", "OU", "CN"]
    return x509.Name.build({_NAME_KEYS[k]: fields[k] for k in order if k in fields}, use_printable=False)


def _subject_text(subject) -> str:
    name = subject if isinstance(subject, x509.Name) else x509.Name.load(subject)
    return name.human_friendly[:500]


def _view(row: IssuedCertificate, ctx: CaContext) -> IssuedView:
    return IssuedView(
        row.ca_id,
        row.serial_hex,
        row.status,
        to_pem(row.certificate_der) if row.certificate_der else None,
        "".join(to_pem(c) for c in ctx.chain),
        row.revoked_at,
        row.revocation_reason,
    )
