"""Every operation in /openapi.json, driven by schemathesis in-process: no server errors, and every
answer's status code, content type and body match what the document declares.

Operations are driven one by one with hypothesis rather than with schemathesis' pytest plugin, which
does not run under pytest 9. Shrinking is off: a failure is reported as found, and the run stays short."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = 8
BINARY = (
    "application/pdf",
    "application/ofd",
    "application/zip",
    "application/ocsp-request",
    "application/timestamp-query",
)


@schemathesis.serializer(*BINARY)
def _binary(_ctx, value) -> bytes:
    """Binary bodies (documents, DER requests): whatever bytes the generator made."""
    return value if isinstance(value, bytes) else str(value).encode()


# Server errors and conformance of every answer to the document. Not `positive_data_acceptance`:
# requests valid by the schema are still refused for reasons a schema does not say (an unknown role,
# a check character), with a documented 4xx.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    from app.cli import initialise
    from app.container import build_services
    from app.main import create_app
    from app.settings import Settings

    data = tmp_path_factory.mktemp("openapi") / "data"
    data.mkdir()
    config = Settings(
        data_dir=data, ceremony_file=ROOT / "tests" / "ceremony-test.yaml", verify_fetch_revocation=False
    )
    initialise(config)
    services = build_services(config)
    token = (data / "bootstrap-admin.token").read_text().strip()
    yield create_app(config, services), token
    services.close()


def _run(operation, token: str) -> str | None:
    """Drive one operation with EXAMPLES generated cases; the first failure, as text, or None."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
    )
    def check(case):
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

    try:
        check()
    except (Exception, BaseExceptionGroup) as exc:  # a failing check: report it with the others
        return f"{operation.label}: {str(exc)[:1500]}"
    return None


def test_every_operation_conforms(deployment):
    app, token = deployment
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    failures = [f for f in (_run(op, token) for op in operations) if f]
    assert not failures, "\n\n".join(failures)
