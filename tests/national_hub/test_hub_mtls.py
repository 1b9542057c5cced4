"""Regions at the hub with client certificates, and issuer codes bound to one region: a region may
report only licenses whose identifier's issuer code is its own (403 for the whole batch otherwise)."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

import national_hub.models as hub_models
from app.hub import create_hub_app
from app.settings import Settings
from core.clock import SystemClock
from core.errors import DomainError, ErrorKind
from db.base import Base, Database
from keys.kek import KeyEncryptor
from keys.service import KeyService
from national_hub.service import HubService
from tests.national_hub.region_pki import RegionCA
from tests.national_hub.test_hub import (
    HLJ,
    JL,
    TYPE_CODE,
    anchor_event,
    bearer,
    license_event,
    report,
    results,
)

BJ = "110000"
HEADER = "X-Client-Cert"
PROXY, STRANGER = ("10.9.8.7", 443), ("198.51.100.4", 443)


def hub_service(tmp_path, database_url, **options) -> tuple[Settings, Database, HubService]:
    """A hub trusting the certificate header from 10.0.0.0/8; ``options`` go to HubService."""
    settings = Settings(
        data_dir=tmp_path / "hub",
        database_url=database_url,
        client_cert_header=HEADER,
        trusted_proxies="10.0.0.0/8",
    )
    settings.data_dir.mkdir()
    db = Database(settings.db_url)
    Base.metadata.create_all(db.engine)
    return settings, db, HubService(db, KeyService(db, KeyEncryptor(settings.kek)), SystemClock(), **options)


@pytest.fixture
def hub(tmp_path, database_url):
    settings, db, service = hub_service(tmp_path, database_url)
    tokens = {HLJ: service.add_region(HLJ, "黑龙江省", "test"), JL: service.add_region(JL, "吉林省", "test")}
    app = create_hub_app(settings, service)
    with (
        TestClient(app, raise_server_exceptions=False, client=PROXY) as client,
        TestClient(app, raise_server_exceptions=False, client=STRANGER) as stranger,
    ):
        yield SimpleNamespace(client=client, stranger=stranger, service=service, db=db, tokens=tokens)
    db.dispose()


def identifier(issuer: str, serial: str = "20250601000000000001") -> str:
    return f"1.2.156.3005.2.{TYPE_CODE}.{issuer}.{serial}.001.0"  # the hub does not recompute the check


def licensed(key: str, issuer: str, region: str, serial: str = "20250601000000000001") -> dict:
    event = license_event(key, identifier(issuer, serial), region=region)
    event["payload"]["issuer_code"] = issuer
    return event


def stored(h, model) -> int:
    with h.db.read() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_an_issuer_code_belongs_to_the_region_that_first_reported_it(hub):
    heilongjiang = "11230100MB0000000X"
    assert results(report(hub, [licensed("h1", heilongjiang, HLJ)])) == ["accepted"]
    before = (stored(hub, hub_models.HubLicense), stored(hub, hub_models.HubReceivedEvent))
    own = licensed("j1", "11220100MB0000000X", JL)
    refused = report(hub, [own, licensed("j2", heilongjiang, JL, serial="2")], region=JL)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert heilongjiang in refused.json()["detail"]
    assert (stored(hub, hub_models.HubLicense), stored(hub, hub_models.HubReceivedEvent)) == before
    assert results(report(hub, [own], region=JL)) == ["accepted"]  # its own issuer is fine


def test_the_operator_binds_issuer_codes_before_any_report(hub):
    hub.service.bind(JL, "test", issuer_codes=["11220000013544541J"])
    assert report(hub, [licensed("h1", "11220000013544541J", HLJ)]).status_code == 403
    with pytest.raises(DomainError) as taken:
        hub.service.bind(HLJ, "test", issuer_codes=["11220000013544541J"])
    assert taken.value.kind == ErrorKind.CONFLICT
    with pytest.raises(DomainError):
        hub.service.bind(HLJ, "test", issuer_codes=["lower-case"])


def test_the_identifier_and_the_payload_name_the_same_issuer(hub):
    event = licensed("h1", "11230100MB0000000X", HLJ)
    event["payload"]["issuer_code"] = "11230100MB0000001X"
    answer = report(hub, [event]).json()["results"][0]
    assert answer["result"] == "rejected" and "issuer code" in answer["detail"]


def test_a_region_authenticates_with_its_registered_certificate(hub):
    region_ca = RegionCA()
    try:
        (first, der), (second, second_der) = region_ca.issue(), region_ca.issue()
        token = hub.service.add_region(BJ, "北京市", "test", der, ["11110000000000000X"])
        assert results(report(hub, [anchor_event("root", region_ca.pem)], region=BJ, token=token)) == [
            "accepted"
        ]
        header = {HEADER: quote(first, safe="")}
        body = {"region": BJ, "events": [licensed("b1", "11110000000000000X", BJ)]}
        ok = hub.client.post("/hub/v1/reports", json=body, headers=header)
        assert results(ok) == ["accepted"]
        assert hub.stranger.post("/hub/v1/reports", json=body, headers=header).status_code == 401
        other_region = hub.client.post("/hub/v1/reports", json={**body, "region": HLJ}, headers=header)
        assert other_region.status_code == 403
        hub.service.bind(BJ, "test", second_der)  # replaced: the old one is refused
        assert hub.client.post("/hub/v1/reports", json=body, headers=header).status_code == 401
        replaced = hub.client.post("/hub/v1/reports", json=body, headers={HEADER: quote(second, safe="")})
        assert replaced.status_code == 200
        assert (
            hub.client.post("/hub/v1/reports", json=body, headers=bearer(hub.tokens[HLJ])).status_code == 403
        )
    finally:
        region_ca.close()
