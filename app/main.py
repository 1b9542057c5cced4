"""The FastAPI application factory."""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import Response

from app import docs, metrics, problems
from app.auth import make_require
from app.container import Services, StartupError, build_services
from app.limits import BodyLimit
from app.lists_router import build_router as lists_router
from app.observability import Observe, configure_logging
from app.probes import readiness
from app.settings import Settings

log = logging.getLogger("longtrust")
MAINTENANCE_INTERVAL_S = 60.0


def _maintenance_loop(services: Services, stop: threading.Event, interval: float) -> None:
    """Periodic jobs: CRLs, responder renewal, hub relay. Safe on every worker at once."""
    while not stop.wait(interval):
        for job in services.periodic_jobs():
            try:
                job()
            except Exception:  # a failed run is retried on the next tick; it must not kill the loop
                log.exception("periodic job %s failed", getattr(job, "__name__", job))


def create_app(
    settings: Settings | None = None, services: Services | None = None, background: bool = False
) -> FastAPI:
    settings = settings or Settings()
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

    app = FastAPI(
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
    app.include_router(lists_router(services.db, make_require(services.tokens)))

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict:
        return services.health()

    _probes(app, services, settings.metrics == "on")

    @app.get("/trust-list", tags=["public"])
    def trust_list() -> dict:
        """This region's trust anchors: CA certificates and seal makers, as reported to the hub."""
        return services.trust_anchors()

    docs.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(Observe, access_log=settings.access_log)
    return app


def _probes(app: FastAPI, services: Services, with_metrics: bool) -> None:
    @app.get("/livez", tags=["health"])
    def livez() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "not ready (problem+json)"}})
    def readyz():
        checks = readiness(services)
        failed = sorted(name for name, result in checks.items() if result != "ok")
        if failed:
            detail = "; ".join(f"{name}: {checks[name]}" for name in failed)
            return problems.problem(503, "not ready", detail, "not-ready", checks=checks)
        return {"status": "ok", "checks": checks}

    if with_metrics:

        @app.get("/metrics", tags=["health"], response_class=Response)
        def prometheus() -> Response:
            return Response(metrics.render(services.registry.outbox_backlog), media_type=metrics.CONTENT_TYPE)


def create_app_from_env() -> FastAPI:
    """Entry point for uvicorn workers (`longtrust serve`): settings come from LONGTRUST_*."""
    settings = Settings()
    configure_logging(settings.log_format)
    return create_app(settings, background=True)
