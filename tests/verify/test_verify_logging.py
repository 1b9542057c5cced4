"""Handled conditions stay out of the logs: `longtrust verify` prints the report and no traceback, and
the server log gets at most one line (besides the access log) for a PDF changed after signing."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.verify.test_pdf_verify import change_page_content, stamped
from verify.sm2_validation import THIRD_PARTY_LOGGERS

LONGTRUST = Path(sys.executable).with_name("longtrust")


@pytest.fixture
def changed_pdf(tmp_path) -> Path:
    path = tmp_path / "changed.pdf"
    path.write_bytes(change_page_content(stamped("B-B")))
    return path


@pytest.mark.slow
def test_cli_verify_of_a_changed_pdf_prints_the_report_without_a_traceback(settings, services, changed_pdf):
    env = {**os.environ, "LONGTRUST_DATABASE_URL": settings.database_url}
    run = subprocess.run(
        [str(LONGTRUST), "verify", str(changed_pdf), "--data-dir", str(settings.data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 1, run.stderr  # not TOTAL_PASSED
    assert run.stdout.startswith("Indication: INDETERMINATE"), run.stdout
    assert "coverage and modifications" in run.stdout and "/Contents" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    assert len([line for line in run.stderr.splitlines() if line.strip()]) <= 1, run.stderr


class Collect(logging.Handler):
    """What the server's log handler (on the root logger, as app.main configures it) receives."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def root_log():
    root, handler = logging.getLogger(), Collect()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)  # the level app.main configures for `longtrust serve`
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def test_server_log_gets_no_traceback_for_a_changed_pdf(client, changed_pdf, root_log):
    r = client.post(
        "/api/v1/verify/pdf", content=changed_pdf.read_bytes(), headers={"Content-Type": "application/pdf"}
    )
    assert r.status_code == 200 and r.json()["indication"] == "INDETERMINATE"
    records = [rec for rec in root_log.records if not rec.name.startswith(("httpx", "uvicorn.access"))]
    assert not [rec for rec in records if rec.exc_info or rec.stack_info], [r.getMessage() for r in records]
    assert len(records) <= 1, [f"{rec.name}: {rec.getMessage()}" for rec in records]


def test_third_party_records_below_error_are_dropped_and_errors_are_one_line(root_log):
    log = logging.getLogger(f"{THIRD_PARTY_LOGGERS[0]}.sign.validation")
    try:
        raise ValueError("first line\nsecond line")
    except ValueError as exc:
        log.warning("handled: path building failed", exc_info=exc)
        log.error("unexpected\nmore", exc_info=exc)
    assert [(r.levelno, r.getMessage(), r.exc_info) for r in root_log.records] == [
        (logging.ERROR, "unexpected", None)
    ]
