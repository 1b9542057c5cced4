"""Headless Debian Chromium (Selenium with the packaged chromedriver, nothing downloaded) against a
real `longtrust serve` process; screenshots of the pages go to tests/artifacts/console/."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import Process, environment, free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = (
    Path(os.environ.get("LONGTRUST_TEST_ARTIFACTS", Path(__file__).parents[1] / "artifacts")) / "console"
)
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
)


def pytest_collection_modifyitems(items):
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    skip = pytest.mark.skip(
        reason="browser tests need Debian's chromium and chromium-driver (apt-get install)"
    )
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(skip)


def chrome(profile: Path, *extra: str):
    """A headless Chromium with a fresh profile; the performance log records every request."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}", *extra):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(0)
    return driver


def requested_urls(driver) -> list[str]:
    """URLs the browser requested since the log was last read (Chrome DevTools Network events)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("console-server")
    env = environment(root / "data", None, audit_sequence_interval_s="0.5")
    process = Process(["serve"], env, free_port(), root / "server.log").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    driver = chrome(profile)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def shots():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def save(driver, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        driver.save_screenshot(str(path))
        return path

    return save


def api_token(server: Process, role: str, name: str, seals: list[str] = ()) -> dict:
    """A new token of a non-admin role, made through the API by the bootstrap administrator."""
    r = httpx.post(
        server.url + "/api/v1/tokens",
        headers=server.admin(),
        json={"role": role, "name": name, "seals": list(seals)},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return r.json()
