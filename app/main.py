"""The FastAPI application factory."""

from __future__ import annotations

import logging
import os
import socket
import threading
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.responses import Response

from app import console, docs, metrics, openapi, problems, rate_limits
from app.container import Services, StartupError, build_services
from app.limits import BodyLimit, JsonDepthLimit
from app.observability import Observe, configure_logging
from app.probes import readiness
from app.settings import Settings
from app.workers import freeze_startup_heap
from ca.ocsp_endpoint import OcspEndpoint
from core.errors import ErrorCode
from db.jobs import claim
from keys.kek import DEFAULT_DEV_KEK_B64

log = logging.getLogger("longtrust")
MAINTENANCE_INTERVAL_S = 60.0


def _maintenance_loop(services: Services, stop: threading.Event, interval: float) -> None:
    """Periodic jobs (CRLs, responder renewal, stale intents, expiry, anchors for the hub): every worker
    ticks, and of all workers and hosts one claims each job per interval (db/jobs.py)."""
    worker = f"{socket.gethostname()}:{os.getpid()}"
    every = timedelta(seconds=interval)
    while not stop.wait(interval):
        for name, job in services.periodic_jobs().items():
            try:
                if claim(services.db, name, every, datetime.now(UTC), worker):
                    job()
            except Exception:  # a failed run is retried on the next interval; it must not kill the loop
                log.exception("periodic job %s failed", name)


def create_app(
    settings: Settings | None = None, services: Services | None = None, background: bool = False
) -> FastAPI:
    settings = settings or Settings()
    if settings.kek == DEFAULT_DEV_KEK_B64:  # only possible in development (startup_problems)
        log.warning("development KEK in use: private keys are encrypted with a public key; set LONGTRUST_KEK")
    services = services or build_services(settings)
    problems_found = services.ca.self_check()
    if problems_found:
        raise StartupError("; ".join(problems_found))

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        stop = threading.Event()
        worker = None
        if background:
            try:
                services.report_trust_anchors()  # before anything else, so other regions can verify us
            except Exception:
                log.exception("could not queue trust anchors for the hub; retried periodically")
            services.start_relay()
            services.start_audit_sequencer()
            worker = threading.Thread(
                target=_maintenance_loop,
                name="maintenance",
                daemon=True,
                args=(services, stop, min(MAINTENANCE_INTERVAL_S, settings.crl_interval_s)),
            )
            worker.start()
        yield
        stop.set()
        if worker is not None:
            worker.join(timeout=10)

    app = LongTrustApp(
        title="LongTrust",
        version="1",
        summary="Certificates, seals, e-licenses and verification for online government services",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    problems.install(app)
    for router in services.routers():
        app.include_router(router)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict:
        return services.health()

    _probes(app, services, settings.metrics == "on")

    @app.get("/trust-list", tags=["public"])
    def trust_list() -> dict:
        """This region's trust anchors: CA certificates and seal makers, as reported to the hub."""
        return services.trust_anchors()

    pages = console.install(app, services)  # /console and /verify: HTML, not in the OpenAPI document
    docs.install(app)
    openapi.install(app)  # after docs: it adds the problem answers to the documented version
    app.add_middleware(JsonDepthLimit)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)  # before anything buffers a body
    app.add_middleware(console.PageErrors, console=pages)  # its refusals of pages become pages
    app.add_middleware(OneGeneration, generation=services.db.generation)
    rate_limits.install(app, services.limits)  # a refused client's body is never read
    app.add_middleware(Observe, access_log=settings.access_log)
    # Pre-signed OCSP answers skip the framework entirely, still inside the access log and metrics.
    app.ocsp = OcspEndpoint(
        None, held=services.ca.ocsp_held, ocsp=services.ca.ocsp, generation=services.db.generation
    )
    app.ocsp_front = Observe(app.ocsp, access_log=settings.access_log, log_every=settings.ocsp_log_every)
    return app


class LongTrustApp(FastAPI):
    """The FastAPI application, with OCSP GET and POST of the usual shapes answered before any of
    the framework's layers (ca/ocsp_endpoint.py); other requests go through FastAPI as usual."""

    ocsp: OcspEndpoint | None = None
    ocsp_front = None

    async def __call__(self, scope, receive, send):
        if self.ocsp is not None and self.ocsp.handles(scope):
            return await self.ocsp_front(scope, receive, send)
        return await super().__call__(scope, receive, send)


def _probes(app: FastAPI, services: Services, with_metrics: bool) -> None:
    @app.get("/livez", tags=["health"])
    async def livez() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "not ready (problem+json)"}})
    def readyz():
        checks = readiness(services)
        failed = sorted(name for name, result in checks.items() if result != "ok")
        if failed:
            detail = "; ".join(f"{name}: {checks[name]}" for name in failed)
            return problems.problem(503, "not ready", detail, ErrorCode.NOT_READY, checks=checks)
        return {"status": "ok", "checks": checks}

    if with_metrics:

        @app.get("/metrics", tags=["health"], response_class=Response)
        def prometheus() -> Response:
            return Response(metrics.render(services.registry.outbox_backlog), media_type=metrics.CONTENT_TYPE)


class OneGeneration:
    """Every cache consulted while answering one request sees the same truth generation, read once
    (db/truth.py): a change committed by any process is honoured from the next request on."""

    def __init__(self, app, generation):
        self.app = app
        self.generation = generation

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        with self.generation.request():
            return await self.app(scope, receive, send)


def create_app_from_env() -> FastAPI:
    """Entry point for uvicorn workers (`longtrust serve`): settings come from LONGTRUST_*."""
    settings = Settings()
    configure_logging(settings.log_format)
    app = create_app(settings, background=True)
    freeze_startup_heap()
    return app
