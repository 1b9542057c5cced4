"""Shared fixtures: a fresh database per test on SQLite, and again on PostgreSQL when
LONGTRUST_TEST_DATABASE_URL is set."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

INTEROP = Path(__file__).resolve().parents[1].parent / "shared" / "interop"
PG_URL = os.environ.get("LONGTRUST_TEST_DATABASE_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'longtrust.db'}"
        return
    if not PG_URL:
        pytest.skip("PostgreSQL run skipped: set LONGTRUST_TEST_DATABASE_URL (CI sets it)")
    schema = "t_" + secrets.token_hex(6)
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def db(database_url):
    """A migrated, empty database."""
    from app.migrate import upgrade
    from db.base import Database

    database = Database(database_url)
    upgrade(database)
    yield database
    database.dispose()


@pytest.fixture
def settings(tmp_path, database_url):
    from app.settings import Settings

    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        public_url="http://127.0.0.1:8400",
        ceremony_file=Path(__file__).with_name("ceremony-test.yaml"),
    )


@pytest.fixture(scope="session")
def initialised_templates(tmp_path_factory):
    """Initialised SQLite data folders, built once per session for each distinct configuration."""
    return {}


def _initialise(settings, templates: dict, tmp_path_factory) -> None:
    """``initialise(settings)``; on SQLite a copy of a data folder and database initialised once with the
    same settings (the CA hierarchy takes seconds to build and each test still gets its own files)."""
    from app.cli import initialise

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    target = Path(settings.database_url.removeprefix("sqlite:///"))
    if not settings.database_url.startswith("sqlite:///") or any(target.parent.glob(target.name + "*")):
        initialise(settings)
        return
    key = json.dumps(settings.model_dump(mode="json", exclude={"data_dir", "database_url"}), sort_keys=True)
    if key not in templates:
        folder = tmp_path_factory.mktemp("initialised")
        template = settings.model_copy(
            update={"data_dir": folder / "data", "database_url": f"sqlite:///{folder / target.name}"}
        )
        template.data_dir.mkdir()
        initialise(template)
        templates[key] = template
    template = templates[key]
    shutil.copytree(template.data_dir, settings.data_dir, dirs_exist_ok=True)
    source = Path(template.database_url.removeprefix("sqlite:///"))
    for part in source.parent.glob(source.name + "*"):
        shutil.copyfile(part, target.parent / (target.name + part.name.removeprefix(source.name)))


@pytest.fixture
def services(settings, initialised_templates, tmp_path_factory):
    from app.container import build_services

    _initialise(settings, initialised_templates, tmp_path_factory)
    svc = build_services(settings)
    yield svc
    svc.close()


@pytest.fixture
def client(settings, services):
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(settings, services), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def token(services):
    """token(role, seals=()) -> bearer token string."""

    def make(role: str, name: str = "test", seals=()):
        with services.db.unit_of_work() as s:
            return services.tokens.create(s, role, name, "test", list(seals))

    return make


def auth(tok: str) -> dict:
    return {"Authorization": f"Bearer {tok}"}


def second_operator(client, role: str = "security-admin", operator: str = "second-operator") -> dict:
    """Headers of a new token held by a different operator than the tests' usual one."""
    services = client.app.state.services
    with services.db.unit_of_work() as s:
        return auth(services.tokens.create(s, role, operator, "test"))


def approved(client, response, approver: dict | None = None):
    """The answer to a request under dual control once a second operator approves it (a direct
    answer is returned as it is)."""
    if response.status_code != 202:
        return response
    request_id = response.json()["request_id"]
    return client.post(f"/api/v1/approvals/{request_id}/approve", headers=approver or second_operator(client))
