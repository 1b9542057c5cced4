"""The national hub as its own FastAPI application (`longtrust hub serve`), with its own data folder."""

from __future__ import annotations

import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response

from app import docs, problems
from app.checkpoints import AuditLog
from app.client_certs import PresentedCertificate
from app.container import StartupError
from app.limits import BodyLimit
from app.observability import Observe, configure_logging
from app.settings import Settings
from app.workers import freeze_startup_heap
from core.clock import SystemClock
from db.base import Database
from keys.kek import KeyEncryptor
from keys.service import KeyService
from national_hub.client_check import RegionCertificateCheck
from national_hub.router import build_router
from national_hub.service import SYSTEM_ACTOR, HubService

HUB_MAX_BODY_BYTES = 16 * 1024 * 1024  # 1000 events, trust anchors included


def build_hub(settings: Settings) -> HubService:
    kek_problems = [p for p in settings.startup_problems() if "LONGTRUST_KEK" in p]
    if kek_problems:
        raise StartupError("; ".join(kek_problems))
    db = Database(settings.db_url, settings.database_connect_timeout_s)
    keys = KeyService(db, KeyEncryptor(settings.kek), sm2_user_id=settings.sm2_user_id.encode())
    check = RegionCertificateCheck(max_age_s=settings.hub_client_revocation_max_age_s)
    return HubService(db, keys, SystemClock(), client_check=check)


def hub_initialise(settings: Settings) -> str:
    """Migrate the schema and make sure the trust-list signing key exists; returns its key_ref."""
    from app.migrate import upgrade

    hub = build_hub(settings)
    try:
        upgrade(hub.db)
        return hub.ensure_signing_key(SYSTEM_ACTOR)
    finally:
        hub.db.dispose()


def create_hub_app(
    settings: Settings | None = None, hub: HubService | None = None, background: bool = False
) -> FastAPI:
    """The hub's application; with ``background`` it also runs the sequencer job of its own audit log."""
    settings = settings or Settings()
    owned = hub is None
    hub = hub or build_hub(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        stop = threading.Event()
        if background:
            audit = AuditLog(hub.db, hub.keys, "hub")
            args = (stop, settings.audit_sequence_interval_s)
            threading.Thread(target=audit.run_forever, name="audit-sequencer", daemon=True, args=args).start()
        yield
        stop.set()
        if owned:
            hub.db.dispose()

    app = FastAPI(
        title="LongTrust national hub",
        version="1",
        lifespan=lifespan,
        summary="Region reports, the national license status index and the signed trust list",
        docs_url=None,
        redoc_url=None,
    )
    app.state.hub = hub
    problems.install(app)
    app.include_router(
        build_router(hub, PresentedCertificate(settings.client_cert_header, settings.trusted_proxies))
    )

    @app.get("/trust-list", tags=["national hub"])
    def trust_list():
        """The signed trust list at the short public path interface.md names."""
        return Response(hub.trust_list_json(), media_type="application/json")

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict:
        with hub.db.read() as s:
            s.connection().exec_driver_sql("SELECT 1")
        return {"status": "ok", "role": "national-hub"}

    docs.install(app)
    app.add_middleware(BodyLimit, max_bytes=min(settings.max_body_bytes, HUB_MAX_BODY_BYTES))
    app.add_middleware(Observe)
    return app


def create_hub_app_from_env() -> FastAPI:
    """Entry point for uvicorn (`longtrust hub serve`): settings come from LONGTRUST_*."""
    configure_logging(Settings().log_format)
    app = create_hub_app(background=True)
    freeze_startup_heap()
    return app
