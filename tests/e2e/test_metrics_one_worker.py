"""`longtrust serve` with its default single worker counts its requests in /metrics."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.processes import Process, environment, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PROBES = 7


def _samples(text: str, name: str) -> dict[str, float]:
    return {
        sample.labels.get("route", ""): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_a_single_worker_counts_its_requests(tmp_path):
    server = Process(["serve"], environment(tmp_path / "data", None), free_port(), tmp_path / "a.log").start()
    try:
        for _ in range(PROBES):
            assert httpx.get(server.url + "/livez").status_code == 200
        metrics = httpx.get(server.url + "/metrics").text
    finally:
        server.stop()
    assert _samples(metrics, "longtrust_http_requests_total").get("/livez") == PROBES
