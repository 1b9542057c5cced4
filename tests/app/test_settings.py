"""Start-up refuses unsafe settings."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.container import StartupError, build_services
from app.settings import Settings


def test_production_refuses_the_development_kek(tmp_path):
    settings = Settings(data_dir=tmp_path, environment="production")
    with pytest.raises(StartupError, match="LONGTRUST_KEK"):
        build_services(settings)


def test_production_starts_with_its_own_kek(tmp_path):
    kek = base64.b64encode(os.urandom(32)).decode()
    services = build_services(
        Settings(data_dir=tmp_path, environment="production", kek=kek, public_url="https://lt.example.gov.cn")
    )
    services.close()


@pytest.mark.parametrize("kek", ["not base64!", base64.b64encode(b"short").decode()])
def test_malformed_kek_is_refused(tmp_path, kek):
    with pytest.raises(ValueError, match="key-encryption key"):
        build_services(Settings(data_dir=tmp_path, kek=kek))


def test_region_must_be_a_gb2260_code(tmp_path):
    with pytest.raises(StartupError, match="LONGTRUST_REGION"):
        build_services(Settings(data_dir=tmp_path, region="beijing"))


KEK = base64.b64encode(bytes(range(32))).decode()
PROD = {
    "LONGTRUST_ENVIRONMENT": "production",
    "LONGTRUST_KEK": KEK,
    "LONGTRUST_PUBLIC_URL": "https://lt.example.gov.cn",
}
HUB = {"LONGTRUST_HUB_URL": "https://hub.example.gov.cn", "LONGTRUST_HUB_TOKEN": "hub_x"}


@pytest.mark.parametrize(
    "environment,named",
    [
        ({"LONGTRUST_PUBLIC_URL": "notaurl"}, "LONGTRUST_PUBLIC_URL"),
        ({"LONGTRUST_PUBLIC_URL": "ftp://files.example"}, "LONGTRUST_PUBLIC_URL"),
        ({"LONGTRUST_HUB_URL": "hub.example.gov.cn", "LONGTRUST_HUB_TOKEN": "t"}, "LONGTRUST_HUB_URL"),
        ({"LONGTRUST_ENVIRONMENT": "prod"}, "LONGTRUST_ENVIRONMENT"),
        ({"LONGTRUST_HUB_URL": "https://hub.example.gov.cn"}, "LONGTRUST_HUB_TOKEN"),
        ({**PROD, "LONGTRUST_PUBLIC_URL": "http://127.0.0.1:8400"}, "LONGTRUST_PUBLIC_URL"),
        ({**PROD, "LONGTRUST_PUBLIC_URL": "http://localhost"}, "LONGTRUST_PUBLIC_URL"),
        ({**PROD, **HUB}, "LONGTRUST_HUB_CERTIFICATE_FILE"),
        ({"LONGTRUST_REGION": "beijing"}, "LONGTRUST_REGION"),
    ],
)
@pytest.mark.slow
def test_every_configuration_mistake_is_one_line_and_fatal(tmp_path, environment, named):
    result = _cli(tmp_path, environment, "init")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and named in lines[0]
    assert not (tmp_path / "data" / "longtrust.db").exists()  # refused before anything was made


@pytest.mark.slow
def test_unknown_names_warn_once_each_and_test_names_are_ignored(tmp_path):
    result = _cli(
        tmp_path, {"LONGTRUST_PUBLIK_URL": "https://x.example", "LONGTRUST_TEST_ANYTHING": "1"}, "init"
    )
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "LONGTRUST_PUBLIK_URL" in warnings[0]


def test_production_with_a_pinned_hub_and_public_url_is_accepted(tmp_path):
    pinned = tmp_path / "hub.pem"
    pinned.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = Settings(
        data_dir=tmp_path,
        environment="production",
        kek=KEK,
        public_url="https://lt.example.gov.cn/",
        hub_url="https://hub.example.gov.cn",
        hub_token="hub_x",
        hub_certificate_file=pinned,
    )
    assert settings.startup_problems() == []
    assert settings.public_url == "https://lt.example.gov.cn"


def _cli(tmp_path, environment: dict, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGTRUST_")}
    env.update(
        environment,
        LONGTRUST_DATA_DIR=str(tmp_path / "data"),
        LONGTRUST_CEREMONY_FILE=str(Path(__file__).parents[1] / "ceremony-test.yaml"),
    )
    return subprocess.run(
        [sys.executable, "-m", "app", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_a_pkcs11_kmc_key_needs_a_pkcs11_module(tmp_path):
    with pytest.raises(StartupError, match="LONGTRUST_KMC_KEY_BACKEND=pkcs11 needs LONGTRUST_PKCS11_MODULE"):
        build_services(Settings(data_dir=tmp_path, kmc_key_backend="pkcs11"))
