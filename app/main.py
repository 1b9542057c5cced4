"""The FastAPI application factory."""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import openapi, problems
from app.container import Services, StartupError, build_services
from app.limits import BodyLimit, JsonDepthLimit
from app.settings import Settings
from keys.kek import DEFAULT_DEV_KEK_B64

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
    )
    app.state.services = services
    problems.install(app)
    openapi.install(app)
    for router in services.routers():
        app.include_router(router)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict:
        return services.health()

    @app.get("/trust-list", tags=["public"])
    def trust_list() -> dict:
        """This region's trust anchors: CA certificates and seal makers, as reported to the hub."""
        return services.trust_anchors()

    app.add_middleware(JsonDepthLimit)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)  # outermost: before anything buffers
    return app


def create_app_from_env() -> FastAPI:
    """Entry point for uvicorn workers (`longtrust serve`): settings come from LONGTRUST_*."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return create_app(background=True)
