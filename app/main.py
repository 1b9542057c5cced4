"""The FastAPI application factory."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from app import problems
from app.container import Services, build_services
from app.limits import BodyLimit
from app.settings import Settings


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or Settings()
    services = services or build_services(settings)
    app = FastAPI(
        title="LongTrust",
        version="1",
        summary="Certificates, seals, e-licenses and verification for online government services",
    )
    app.state.services = services
    problems.install(app)
    for router in services.routers():
        app.include_router(router)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict:
        return services.health()

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app


def create_app_from_env() -> FastAPI:
    """Entry point for uvicorn workers (`longtrust serve`): settings come from LONGTRUST_*."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return create_app()
