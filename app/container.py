"""Wiring: builds every room's service from the settings, once per process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from app import admin_router as admin
from app.admin_router import build_router as admin_router
from app.approvals import ApprovalService
from app.audit_router import build_router as audit_router
from app.auth import make_require
from app.checkpoints import AuditLog
from app.client_certs import PresentedCertificate
from app.lists_router import build_router as lists_router
from app.metrics import key_used
from app.rate_limits import RateLimits, limit_problems
from app.settings import Settings
from app.tokens import TokenService
from app.trust import HubTrustList, LocalTrust
from ca import router as ca_routes
from ca.pairs import PairService, RecoveryService
from ca.router import build_kmc_router
from ca.router import build_router as ca_router
from ca.service import CAService, to_pem
from core.clock import SystemClock
from core.errors import DomainError, ErrorKind
from db.base import Database
from keys.kek import KeyEncryptor
from keys.kmc import KeyManagementCentre
from keys.service import KeyService
from license_registry.hub_client import HubClient
from license_registry.identifier import identifier_problem
from license_registry.outbox import TrustAnchor
from license_registry.relay import HubRelay
from license_registry.router import build_router as registry_router
from license_registry.service import RegistryService
from policies.ceremony import load_ceremony
from policies.profiles import load_profiles
from seal_service import router as seal_routes
from seal_service.router import build_router as seal_router
from seal_service.service import SealService
from verify.fetching import FetchPolicy, parse_prefixes
from verify.router import build_router as verify_router
from verify.service import VerifyService


class StartupError(RuntimeError):
    """The service must not start; the message says why."""


@dataclass
class Services:
    settings: Settings
    db: Database
    keys: KeyService
    tokens: TokenService
    approvals: ApprovalService
    limits: RateLimits
    ca: CAService
    seals: SealService
    verify: VerifyService
    registry: RegistryService
    audit: AuditLog
    pairs: PairService
    recoveries: RecoveryService
    kmc: KeyManagementCentre
    relay: HubRelay | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def routers(self):
        presented = PresentedCertificate(self.settings.client_cert_header, self.settings.trusted_proxies)
        require = make_require(self.tokens, self.limits, presented)
        return [
            admin_router(self.tokens, self.approvals, require),
            ca_router(self.ca, require, self.approvals),
            seal_router(self.seals, require, self.approvals),
            build_kmc_router(self.pairs, self.recoveries, self.approvals, require),
            verify_router(self.verify),
            registry_router(self.registry, require),
            lists_router(self.db, require),
            audit_router(self.audit, require),
        ]

    def periodic_jobs(self) -> dict[str, Callable[[], object]]:
        """Jobs the scheduler runs, by name; each runs once per interval across all processes."""
        return {
            "ca-maintenance": self.ca.maintain,
            "trust-anchor-report": self.report_trust_anchors,
            "license-expiry": self.registry.expire_due,
        }

    def trust_anchors(self) -> dict:
        anchors = [
            {
                "kind": "ca-intermediate" if ca.parent_id else "ca-root",
                "id": ca.id,
                "status": ca.status,
                "certificate_pem": to_pem(ca.certificate_der),
            }
            for ca in self.ca.list_cas()
        ]
        anchors += [
            {
                "kind": "seal-maker",
                "id": m.algorithm,
                "status": "active",
                "certificate_pem": to_pem(m.certificate_der),
            }
            for m in self.seals.makers()
        ]
        return {"region": self.settings.region, "anchors": anchors}

    def report_trust_anchors(self) -> int:
        """Queue this region's CA certificates and seal makers for the hub (only what changed)."""
        anchors = [
            TrustAnchor(
                "ca-intermediate" if ca.parent_id else "ca-root",
                ca.certificate_der,
                "revoked" if ca.status != "active" else "active",
            )
            for ca in self.ca.list_cas()
        ]
        anchors += [TrustAnchor("seal-maker", m.certificate_der, "active") for m in self.seals.makers()]
        return self.registry.report_trust_anchors(anchors)

    def start_relay(self) -> threading.Thread | None:
        if self.relay is None:
            return None
        thread = threading.Thread(
            target=self.relay.run_forever,
            name="hub-relay",
            daemon=True,
            args=(self._stop, self.settings.hub_relay_interval_s),
        )
        thread.start()
        return thread

    def start_audit_sequencer(self) -> threading.Thread:
        thread = threading.Thread(
            target=self.audit.run_forever,
            name="audit-sequencer",
            daemon=True,
            args=(self._stop, self.settings.audit_sequence_interval_s),
        )
        thread.start()
        return thread

    def health(self) -> dict:
        with self.db.read() as s:
            s.connection().exec_driver_sql("SELECT 1")
        return {"status": "ok", "region": self.settings.region}

    def close(self) -> None:
        self._stop.set()
        self.db.dispose()


def _pkcs11_token(settings: Settings):
    if not settings.pkcs11_module:
        return None
    from keys.pkcs11 import Pkcs11Token

    if not (settings.pkcs11_token_label and settings.pkcs11_pin):
        raise StartupError(
            "LONGTRUST_PKCS11_MODULE needs LONGTRUST_PKCS11_TOKEN_LABEL and LONGTRUST_PKCS11_PIN"
        )
    return Pkcs11Token(settings.pkcs11_module, settings.pkcs11_token_label, settings.pkcs11_pin)


def build_services(settings: Settings) -> Services:
    problems = settings.startup_problems() + limit_problems(settings)
    if problems:
        raise StartupError("; ".join(problems))
    db = Database(settings.db_url, settings.database_connect_timeout_s, settings.freshness_check)
    encryptor = KeyEncryptor(settings.kek)
    token = _pkcs11_token(settings)
    keys = KeyService(
        db, encryptor, sm2_user_id=settings.sm2_user_id.encode(), pkcs11_token=token, on_sign=key_used
    )
    try:
        kmc = KeyManagementCentre(db, encryptor, settings.kmc_key_backend, token)
    except ValueError as exc:
        raise StartupError(f"LONGTRUST_KMC_KEY_BACKEND: {exc}") from None
    clock = SystemClock()
    ca = CAService(
        db,
        keys,
        load_profiles(),
        load_ceremony(settings.ceremony_file, settings.region),
        settings.public_url,
        clock,
    )
    seals = SealService(db, keys, ca, clock, settings.region, settings.seal_attribute_oid)
    hub = relay = hub_trust = None
    if settings.hub_url and (settings.hub_token or settings.hub_client_cert):
        cert = (
            (str(settings.hub_client_cert), str(settings.hub_client_key))
            if settings.hub_client_cert
            else None
        )
        hub = HubClient(settings.hub_url, settings.hub_token, cert=cert)
        relay = HubRelay(db, settings.hub_url, settings.hub_token, settings.region, cert=cert)
        pinned = settings.hub_certificate_file.read_text() if settings.hub_certificate_file else None
        hub_trust = HubTrustList(hub, settings.region, pinned, settings.hub_trust_refresh_s)
    registry = RegistryService(db, seals, clock, settings.region, hub, public_url=settings.public_url)
    verifier = VerifyService(
        LocalTrust(ca, hub_trust),
        settings.seal_attribute_oid,
        license_status=_status_lookup(registry),
        identifier_problem=identifier_problem,
        fetch_revocation=settings.verify_fetch_revocation,
        fetch_policy=FetchPolicy(
            parse_prefixes(settings.fetch_allow), max_cache_s=settings.verify_fetch_max_age_s
        ),
    )
    tokens = TokenService(db, settings.token_default_ttl_days)
    recoveries = RecoveryService(ca, kmc, clock)
    approvals = ApprovalService(db, settings.approval_ttl_s)
    # One registry of what an approval carries out, shared by the API and the CLI.
    for operation in (
        admin.operations(tokens) + ca_routes.operations(ca, recoveries) + seal_routes.operations(seals)
    ):
        approvals.register(*operation)
    return Services(
        settings=settings,
        db=db,
        keys=keys,
        tokens=tokens,
        approvals=approvals,
        limits=RateLimits(settings),
        ca=ca,
        seals=seals,
        verify=verifier,
        registry=registry,
        audit=AuditLog(db, keys, settings.region, hub),
        pairs=PairService(ca, kmc, clock),
        recoveries=recoveries,
        kmc=kmc,
        relay=relay,
    )


def _status_lookup(registry: RegistryService):
    def lookup(identifier: str) -> dict | None:
        try:
            status = registry.status_of(identifier)
        except DomainError as exc:
            if exc.kind == ErrorKind.NOT_FOUND:
                return None
            raise
        return {**status, "source": "registry" if status.get("region") == registry.region else "national hub"}

    return lookup
