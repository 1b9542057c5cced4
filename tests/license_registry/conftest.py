"""Registry fixtures: tables from the models (no migrations yet), a pinned clock and a fake stamper."""

from __future__ import annotations

import pytest

import db.audit  # noqa: F401  (audit table in the metadata)
import license_registry.models  # noqa: F401
from core.clock import FixedClock
from db.base import Base, Database
from license_registry.service import RegistryService
from tests.license_registry.support import (
    COMPANY_SCHEMA,
    ISSUER,
    PERSON_SCHEMA,
    PERSON_TYPE_CODE,
    REGION,
    START,
    TYPE_CODE,
    FakePrincipal,
    FakeStamper,
)


@pytest.fixture
def registry_db(database_url):
    database = Database(database_url)
    Base.metadata.create_all(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def clock():
    return FixedClock(START)


@pytest.fixture
def stamper():
    return FakeStamper()


@pytest.fixture
def principal():
    return FakePrincipal()


@pytest.fixture
def registry(registry_db, stamper, clock):
    return RegistryService(registry_db, stamper, clock, REGION, public_url="https://lt.example.gov.cn")


@pytest.fixture
def types(registry, principal):
    registry.create_type(
        TYPE_CODE,
        "建筑业企业资质证书",
        ISSUER,
        "organization",
        COMPANY_SCHEMA,
        principal,
        validity_days=5 * 365,
    )
    registry.create_type(PERSON_TYPE_CODE, "安全生产考核合格证书", ISSUER, "person", PERSON_SCHEMA, principal)
    return registry
