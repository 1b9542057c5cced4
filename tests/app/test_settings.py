"""Start-up refuses unsafe settings."""

from __future__ import annotations

import base64
import os

import pytest

from app.container import StartupError, build_services
from app.settings import Settings


def test_production_refuses_the_development_kek(tmp_path):
    settings = Settings(data_dir=tmp_path, environment="production")
    with pytest.raises(StartupError, match="LONGTRUST_KEK"):
        build_services(settings)


def test_production_starts_with_its_own_kek(tmp_path):
    kek = base64.b64encode(os.urandom(32)).decode()
    services = build_services(Settings(data_dir=tmp_path, environment="production", kek=kek))
    services.close()


@pytest.mark.parametrize("kek", ["not base64!", base64.b64encode(b"short").decode()])
def test_malformed_kek_is_refused(tmp_path, kek):
    with pytest.raises(ValueError, match="key-encryption key"):
        build_services(Settings(data_dir=tmp_path, kek=kek))


def test_region_must_be_a_gb2260_code(tmp_path):
    with pytest.raises(StartupError, match="LONGTRUST_REGION"):
        build_services(Settings(data_dir=tmp_path, region="beijing"))
