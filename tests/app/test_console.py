"""The web console and /verify in-process: sessions, CSRF, access, languages, error pages and each
page's action through the same services as the API."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from app.console.license_pages import CSV_COLUMNS
from app.console.sessions import COOKIE
from tests.ca.csrs import make_csr
from tests.license_registry.support import COMPANY, COMPANY_SCHEMA, ISSUER, TYPE_CODE, make_license_seal
from tests.seal_service.test_pdf import make_pdf, make_png

USCC = "11100000000013338W"


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, token: str):
    """Sign ``client`` in with ``token``; returns the start page."""
    form = client.get("/console/login")
    assert form.status_code == 200
    r = client.post(
        follow_redirects=False,
        url="/console/login",
        data={"token": token, "csrf_token": csrf_of(form.text), "next": ""},
    )
    assert r.status_code == 303 and r.headers["location"] == "/console", r.text
    return client.get("/console")


def post(client, path: str, page: str, **fields):
    """POST a console form with the CSRF token of the page at ``page``."""
    return client.post(
        follow_redirects=False, url=path, data={"csrf_token": csrf_of(client.get(page).text), **fields}
    )


@pytest.fixture
def admin(client, token):
    sign_in(client, token("security-admin", "alice"))
    return client


def other_client(client):
    from fastapi.testclient import TestClient

    return TestClient(client.app, raise_server_exceptions=False)


def test_sign_in_sets_a_strict_httponly_cookie_and_shows_the_operator(client, token):
    form = client.get("/console/login")
    r = client.post(
        follow_redirects=False,
        url="/console/login",
        data={"token": token("auditor", "audra"), "csrf_token": csrf_of(form.text), "next": "/console/audit"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/console/audit"
    cookie = r.headers["set-cookie"]
    assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = client.get("/console")
    assert "audra (auditor)" in page.text
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"


def test_a_wrong_token_is_refused_with_a_page(client):
    form = client.get("/console/login")
    r = client.post(
        follow_redirects=False,
        url="/console/login",
        data={"token": "lt_nope", "csrf_token": csrf_of(form.text)},
    )
    assert r.status_code == 401 and "text/html" in r.headers["content-type"]
    assert "unknown, revoked or expired" in r.text


def test_pages_need_a_session_and_an_open_redirect_is_refused(client, token):
    r = client.get("/console/seals", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login?next=/console/seals"
    form = client.get("/console/login")
    r = client.post(
        follow_redirects=False,
        url="/console/login",
        data={"token": token("auditor"), "csrf_token": csrf_of(form.text), "next": "https://evil.example/"},
    )
    assert r.headers["location"] == "/console"


def test_a_forged_post_without_the_csrf_token_changes_nothing(admin, services):
    view = services.ca.issue("sm2-issuing", make_csr("sm2"), "organization-signing", "test", USCC)
    path = f"/console/certificates/sm2-issuing/{view.serial_hex}/revoke"
    for data in ({"reason": "keyCompromise"}, {"reason": "keyCompromise", "csrf_token": "forged"}):
        r = admin.post(follow_redirects=False, url=path, data=data)
        assert r.status_code == 403 and "CSRF" in r.text
    assert services.ca.get("sm2-issuing", view.serial_hex).status == "good"


def test_a_csrf_token_of_another_session_is_refused(admin, client, token, services):
    stranger = other_client(client)
    sign_in(stranger, token("security-admin", "mallory"))
    view = services.ca.issue("sm2-issuing", make_csr("sm2"), "organization-signing", "test", USCC)
    theirs = csrf_of(stranger.get("/console").text)
    r = admin.post(
        follow_redirects=False,
        url=f"/console/certificates/sm2-issuing/{view.serial_hex}/revoke",
        data={"reason": "keyCompromise", "csrf_token": theirs},
    )
    assert r.status_code == 403
    assert services.ca.get("sm2-issuing", view.serial_hex).status == "good"


def test_revoking_the_token_ends_its_session_at_once(client, token, services):
    secret = token("security-admin", "bob")
    sign_in(client, secret)
    assert client.get("/console/seals").status_code == 200
    token_id = services.tokens.authenticate(secret).token_id
    with services.db.unit_of_work() as s:
        services.tokens.revoke(s, token_id, "test")
    r = client.get("/console/seals", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")


def test_sign_out_ends_the_session(admin):
    copied = admin.cookies.get(COOKIE)
    r = post(admin, "/console/logout", "/console")
    assert r.status_code == 303
    assert admin.get("/console", follow_redirects=False).status_code == 303
    admin.cookies.set(COOKIE, copied)  # a copy of the cookie taken before signing out
    assert admin.get("/console", follow_redirects=False).status_code == 303


def test_expired_session_rows_are_deleted_at_the_next_sign_in(client, token, services):
    from datetime import UTC, datetime

    from sqlalchemy import func, select, update

    from app.console.session_rows import ConsoleSession

    sign_in(client, token("auditor"))
    with services.db.unit_of_work() as s:  # what the row looks like once its lifetime is over
        s.execute(update(ConsoleSession).values(expires_at=datetime(2000, 1, 1, tzinfo=UTC)))
    sign_in(other_client(client), token("auditor", "next"))
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(ConsoleSession)) == 1


def test_sign_in_failed_sign_in_and_sign_out_are_audited_without_the_token(client, token, services):
    secret = token("auditor", "audra")
    token_id = services.tokens.authenticate(secret).token_id
    form = client.get("/console/login")
    client.post(url="/console/login", data={"token": "lt_wrong-guess", "csrf_token": csrf_of(form.text)})
    sign_in(client, secret)
    post(client, "/console/logout", "/console")
    signed_in = _events(services, "console.sign-in")
    signed_out = _events(services, "console.sign-out")
    failed = _events(services, "console.sign-in-failed")
    assert [e["subject"] for e in signed_in] == [token_id] and signed_in[0]["actor"] == "auditor:audra"
    assert [e["subject"] for e in signed_out] == [token_id]
    assert signed_in[0]["details"]["console_session"] == signed_out[0]["details"]["console_session"]
    assert len(failed) == 1 and failed[0]["actor"] == "anonymous"
    everything = repr(signed_in + signed_out + failed)
    assert secret not in everything and "lt_wrong-guess" not in everything


def test_failed_sign_ins_count_against_the_authentication_failure_limit(settings, services):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.rate_limits import RateLimits

    services.limits = RateLimits(settings.model_copy(update={"rate_limit_auth_failures": "2/minute"}))
    with TestClient(create_app(settings, services), raise_server_exceptions=False) as c:
        codes = []
        for _ in range(3):
            form = c.get("/console/login")
            data = {"token": "lt_nope", "csrf_token": csrf_of(form.text)}
            codes.append(c.post("/console/login", data=data).status_code)
    assert codes == [401, 401, 429]
    assert len(_events(services, "console.sign-in-failed")) == 2  # a refused attempt is not even tried


def test_a_forged_or_altered_cookie_is_no_session(client, token):
    sign_in(client, token("security-admin"))
    value = client.cookies.get(COOKIE)
    body, _, mac = value.partition(".")
    client.cookies.set(COOKIE, body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac)
    assert client.get("/console", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ({"params": {"lang": "zh"}}, "管理控制台"),
        ({"headers": {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}}, "管理控制台"),
        ({"headers": {"Accept-Language": "en-GB,zh;q=0.1"}}, "Console"),
        ({}, "Console"),
    ],
)
def test_language_from_query_header_or_default(admin, how, expected):
    r = admin.get("/console", **how)
    assert f"<h1>{expected}</h1>" in r.text


def test_the_language_choice_is_remembered(admin):
    admin.get("/console", params={"lang": "zh"})
    assert "<h1>管理控制台</h1>" in admin.get("/console").text


def test_a_role_without_the_action_sees_a_forbidden_page(client, token):
    sign_in(client, token("verifier", "vera"))
    r = client.get("/console/audit")
    assert r.status_code == 403 and "text/html" in r.headers["content-type"]
    assert "verifier may not audit.read" in r.text
    r = client.get("/console/audit", params={"lang": "zh"})
    assert "您的角色 verifier 无权执行 audit.read" in r.text


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/console/certificates/sm2-issuing/00ff", 404),
        ("/console/certificates/no-such-ca/01", 404),
        ("/console/seals/nope", 404),
        ("/console/licenses/nope", 403),  # security-admin may not license.read
        ("/console/nothing-here", 404),
        ("/console/audit/proof/999999", 404),  # no checkpoint signed yet
    ],
)
def test_errors_are_pages_with_a_message(admin, path, status):
    r = admin.get(path)
    assert r.status_code == status, r.text
    assert "text/html" in r.headers["content-type"]
    assert 'class="error"' in r.text and "Traceback" not in r.text


def test_bad_form_input_is_a_page(admin, services):
    view = services.ca.issue("sm2-issuing", make_csr("sm2"), "organization-signing", "test", USCC)
    page = f"/console/certificates/sm2-issuing/{view.serial_hex}"
    r = post(admin, page + "/revoke", page, reason="not-a-reason")
    assert r.status_code == 400 and "unknown revocation reason" in r.text
    r = post(admin, "/console/seals", "/console/seals", name="x", owner_credit_code="short", type="1")
    assert r.status_code == 400 and "owner_credit_code" in r.text


def test_certificate_search_and_revocation(admin, services):
    view = services.ca.issue("sm2-issuing", make_csr("sm2"), "organization-signing", "test", USCC)
    listing = admin.get("/console/certificates", params={"credit_code": USCC})
    assert view.serial_hex in listing.text
    page = f"/console/certificates/sm2-issuing/{view.serial_hex}"
    r = post(admin, page + "/revoke", page, reason="keyCompromise")
    assert r.status_code == 303
    assert "revoked" in admin.get(r.headers["location"]).text
    assert services.ca.get("sm2-issuing", view.serial_hex).status == "revoked"
    assert "test" not in [e["actor"] for e in _events(services, "certificate.revoke")]


def _events(services, action: str) -> list[dict]:
    from db.audit_listing import list_events

    return list_events(services.db, 100, action=action)[0]


def test_seal_made_with_an_upload_is_approved_by_a_second_operator(admin, client, token, services):
    r = admin.post(
        follow_redirects=False,
        url="/console/seals",
        data={
            "csrf_token": csrf_of(admin.get("/console/seals").text),
            "name": "测试局业务专用章",
            "owner_credit_code": USCC,
            "type": "organization",
            "algorithm": "sm2",
            "width_mm": "40",
            "height_mm": "40",
        },
        files={"image": ("seal.png", make_png(), "image/png")},
    )
    assert r.status_code == 303 and "done=requested" in r.headers["location"]
    request_id = re.search(r"request_id=([\w-]+)", r.headers["location"]).group(1)
    same = post(admin, f"/console/approvals/{request_id}/approve", "/console/approvals")
    assert same.status_code == 403 and "different operator" in same.text

    second = other_client(client)
    sign_in(second, token("security-admin", "carol"))
    assert request_id in second.get("/console/approvals").text
    r = post(second, f"/console/approvals/{request_id}/approve", "/console/approvals")
    assert r.status_code == 303 and "done=approved" in r.headers["location"]
    seal_id = services.approvals.get(request_id)["status"] == "approved" and _seals(services)[0]
    detail = admin.get(f"/console/seals/{seal_id}")
    assert 'id="seal-picture"' in detail.text and "data:image/png;base64," in detail.text

    page = f"/console/seals/{seal_id}"
    assert post(admin, page + "/suspend", page, reason="audit").status_code == 303
    assert services.seals.get(seal_id).status == "suspended"
    assert post(admin, page + "/resume", page).status_code == 303
    assert services.seals.get(seal_id).status == "active"
    with services.db.unit_of_work() as s:
        system = services.tokens.issue(s, "approval-system", "oa", "test").token_id
    assert post(admin, page + "/grant", page, token_id=system).status_code == 303
    assert seal_id in services.tokens.by_id(system).seals
    assert post(admin, page + "/revoke", page, reason="keyCompromise").status_code == 303
    assert services.seals.get(seal_id).status == "revoked"


def _seals(services) -> list[str]:
    from seal_service.listing import list_seals

    return [s.seal_id for s in list_seals(services.db, 10)[0]]


def test_seal_template_preview_is_a_png(admin):
    r = admin.get("/console/seals/preview", params={"name": "测试局", "template": "round"})
    assert r.status_code == 200 and r.content.startswith(b"\x89PNG")


def _registry(services):
    seal = make_license_seal(services)
    with services.db.unit_of_work() as s:
        operator = services.tokens.issue(s, "registry-operator", "reg", "test", [seal.seal_id])
    principal = services.tokens.by_id(operator.token_id)
    services.registry.create_type(
        TYPE_CODE, "建筑业企业资质证书", ISSUER, "organization", COMPANY_SCHEMA, principal
    )
    return seal.seal_id, operator.token


def _csv(seal_id: str, rows: int) -> bytes:
    today = date.today()
    lines = [",".join(CSV_COLUMNS)]
    for i in range(rows):
        data = f'"{{""certificate_number"": ""D{i}"", ""qualification"": ""一级""}}"'
        lines.append(
            f"{TYPE_CODE},某建设有限公司,001,{COMPANY},{today},{today + timedelta(days=30)},{seal_id},{data}"
        )
    return ("\n".join(lines) + "\n").encode()


def test_license_import_search_history_and_revoke(client, services):
    seal_id, secret = _registry(services)
    sign_in(client, secret)
    r = client.post(
        follow_redirects=False,
        url="/console/licenses/import",
        data={"csrf_token": csrf_of(client.get("/console/licenses/import").text)},
        files={"file": ("licenses.csv", _csv(seal_id, 3), "text/csv")},
    )
    assert r.status_code == 200 and "Done: 3 issued, 0 failed." in r.text
    assert r.text.count("longtrust.progress(") == 3  # one progress update per row
    found = client.get("/console/licenses", params={"q": COMPANY})
    identifiers = re.findall(r'<a href="/console/licenses/([^"/?]+)">\1</a>', found.text)
    assert len(set(identifiers)) == 3, found.text
    page = f"/console/licenses/{identifiers[0]}"
    by_identifier = client.get("/console/licenses", params={"q": identifiers[0]}, follow_redirects=False)
    assert by_identifier.headers["location"] == page
    detail = client.get(page)
    assert 'id="history"' in detail.text and "001" in detail.text
    r = post(client, page + "/revoke", page, reason="企业注销")
    assert r.status_code == 303
    assert services.registry.get(identifiers[0])["status"] == "revoked"


def test_a_bad_csv_names_the_row(client, services):
    seal_id, secret = _registry(services)
    sign_in(client, secret)
    bad = _csv(seal_id, 2).replace(b"-", b"/", 1)
    r = client.post(
        follow_redirects=False,
        url="/console/licenses/import",
        data={"csrf_token": csrf_of(client.get("/console/licenses/import").text)},
        files={"file": ("licenses.csv", bad, "text/csv")},
    )
    assert r.status_code == 400 and "row 1" in r.text


def test_audit_proof_check_against_the_signed_checkpoint(client, token, services):
    sign_in(client, token("auditor", "audra"))
    services.ca.issue("sm2-issuing", make_csr("sm2"), "organization-signing", "test", USCC)
    services.audit.run()
    listing = client.get("/console/audit")
    assert "/console/audit/proof/0" in listing.text
    r = client.get("/console/audit/proof/0")
    assert r.status_code == 200 and 'id="proof-result" class="passed"' in r.text
    assert 'id="signature-result" class="passed"' in r.text

    from sqlalchemy import update

    from db.audit import AuditEvent

    with services.db.unit_of_work() as s:  # an event altered behind the log's back
        s.execute(update(AuditEvent).where(AuditEvent.seq == 1).values(canonical=b"{}"))
    r = client.get("/console/audit/proof/0")
    assert r.status_code == 200 and 'id="proof-result" class="failed"' in r.text


def test_hub_page_shows_the_outbox(client, token):
    sign_in(client, token("registry-operator"))
    r = client.get("/console/hub")
    assert r.status_code == 200 and 'id="outbox-pending"' in r.text


def test_console_routes_are_not_in_the_openapi_document(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/console", "/verify"))]


def _stamped_pdf(services) -> bytes:
    seal = services.seals.create_seal(
        name="测试局业务专用章",
        owner_credit_code=USCC,
        seal_type="organization",
        algorithm="sm2",
        image_png=make_png(),
        actor="test",
    )
    with services.db.unit_of_work() as s:
        issued = services.tokens.issue(s, "approval-system", "oa", "test", [seal.seal_id])
    principal = services.tokens.by_id(issued.token_id)
    return services.seals.stamp_pdf(seal.seal_id, make_pdf(), principal)


def test_verify_page_shows_the_report_and_the_seal_picture(client, services):
    assert client.get("/verify").status_code == 200
    r = client.post(
        follow_redirects=False,
        url="/verify",
        files={"file": ("stamped.pdf", _stamped_pdf(services), "application/pdf")},
    )
    assert r.status_code == 200, r.text
    assert 'id="indication">TOTAL_PASSED' in r.text
    assert 'class="seal seal-picture" src="data:image/png;base64,' in r.text


def test_verify_page_refuses_unusable_input_with_a_page(client):
    r = client.post(
        follow_redirects=False, url="/verify", files={"file": ("x.bin", b"hello", "application/octet-stream")}
    )
    assert r.status_code == 400 and "not a PDF, OFD" in r.text
    r = client.post(follow_redirects=False, url="/verify", data={})
    assert r.status_code == 400 and 'class="error"' in r.text


def test_verify_page_counts_against_the_anonymous_verification_limit(tmp_path, settings, services):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.rate_limits import RateLimits

    services.limits = RateLimits(settings.model_copy(update={"rate_limit_verify": "2/minute"}))
    with TestClient(create_app(settings, services), raise_server_exceptions=False) as c:
        codes = [c.post("/verify", files={"file": ("x", b"hello")}).status_code for _ in range(3)]
    assert codes == [400, 400, 429]


PAGES = {
    "/console/certificates": "ca.read",
    "/console/approvals": "approval.read",
    "/console/seals": "seal.read",
    "/console/seals/preview?name=x": "seal.manage",
    "/console/licenses": "license.read",
    "/console/licenses/import": "license.issue",
    "/console/hub": "license.read",
    "/console/audit": "audit.read",
}


def test_access_matrix_of_the_console_pages(client, token):
    """Every page × every role: the page for the roles access.yaml allows, a 403 page for the rest."""
    from policies.access import access_policy

    policy = access_policy()
    mismatches = []
    for role in sorted(policy.roles):
        browser = other_client(client)
        sign_in(browser, token(role, f"matrix-{role}"))
        for path, action in PAGES.items():
            expected = 200 if policy.allows(role, action) else 403
            if browser.get(path).status_code != expected:
                mismatches.append((role, path, expected))
        nav = re.search(r"<nav>(.*?)</nav>", browser.get("/console").text, re.S).group(1)
        for link in re.findall(r'href="(/console/[a-z]+)"', nav):  # the menu offers only what opens
            if browser.get(link).status_code != 200:
                mismatches.append((role, link, "in the menu"))
    assert mismatches == []


def test_an_upload_over_the_body_limit_is_a_page(settings, services):
    from fastapi.testclient import TestClient

    from app.main import create_app

    small = settings.model_copy(update={"max_body_bytes": 10_000})
    with TestClient(create_app(small, services), raise_server_exceptions=False) as c:
        r = c.post("/verify", files={"file": ("big.pdf", b"%PDF" + b"0" * 20_000)})
        assert r.status_code == 413 and "text/html" in r.headers["content-type"]
        assert "exceeds 10000 bytes" in r.text
        assert c.get("/console/static/nothing.css").headers["content-type"].startswith("text/html")


def test_every_message_a_page_or_module_names_is_in_both_languages():
    from pathlib import Path

    from app.console.i18n import catalogue

    root = Path(__file__).resolve().parents[2] / "app" / "console"
    texts = [p.read_text(encoding="utf-8") for p in (*root.glob("templates/*.html"), *root.glob("*.py"))]
    used = {key for text in texts for key in re.findall(r"""\bt\(\s*['"]([a-z_]+)['"]\s*[,)]""", text)}
    assert used and not used - set(catalogue())
    from verify.report import INDICATIONS

    assert {f"indication_{i}" for i in INDICATIONS} <= set(catalogue())


def test_the_session_lifetime_setting_is_known_and_checked():
    from app.settings import Settings, unknown_names

    assert unknown_names({"LONGTRUST_CONSOLE_SESSION_S": "600"}) == []
    problems = Settings(console_session_s=0).startup_problems()
    assert "LONGTRUST_CONSOLE_SESSION_S must be a positive number of seconds" in problems


def test_a_session_ends_after_its_lifetime(client, token, settings):
    from app.console.sessions import SessionSigner

    sign_in(client, token("auditor"))
    started = client.cookies.get(COOKIE)
    principal_id = client.app.state.services.tokens.authenticate(token("auditor", "other")).token_id
    client.cookies.set(COOKIE, SessionSigner(settings.kek, -1.0).new(principal_id)[1])  # signed, expired
    assert client.get("/console", follow_redirects=False).status_code == 303
    client.cookies.set(COOKIE, SessionSigner(settings.kek, 60).new(principal_id)[1])  # signed, never started
    assert client.get("/console", follow_redirects=False).status_code == 303
    client.cookies.set(COOKIE, started)
    assert client.get("/console", follow_redirects=False).status_code == 200


def test_verify_page_shows_the_picture_of_a_seal_and_of_a_license(client, services):
    import json

    seal_id, secret = _registry(services)
    seal_der = services.seals.get(seal_id).seal_der
    r = client.post("/verify", files={"file": ("seal.der", seal_der, "application/octet-stream")})
    assert r.status_code == 200 and 'id="indication">TOTAL_PASSED' in r.text
    assert 'class="seal seal-picture" src="data:image/png;base64,' in r.text
    principal = services.tokens.authenticate(secret)
    today = date.today()
    document = services.registry.issue(
        TYPE_CODE,
        {"name": "某建设有限公司", "id_type": "001", "id_number": COMPANY},
        {"certificate_number": "D1", "qualification": "一级"},
        today,
        today + timedelta(days=30),
        seal_id,
        principal,
    )
    r = client.post("/verify", files={"file": ("license.json", json.dumps(document).encode())})
    assert r.status_code == 200 and 'id="indication">TOTAL_PASSED' in r.text, r.text
    assert 'class="seal seal-picture" src="data:image/png;base64,' in r.text


def test_verify_page_shows_the_picture_of_a_stamped_ofd(client, services):
    from tests.seal_service.ofd_samples import make_ofd

    seal_id, secret = _registry(services)
    ofd = services.seals.stamp_ofd(
        seal_id, make_ofd([[("申请书", 30, 30)]]), services.tokens.authenticate(secret)
    )
    r = client.post("/verify", files={"file": ("stamped.ofd", ofd, "application/ofd")})
    assert r.status_code == 200 and 'id="indication">TOTAL_PASSED' in r.text, r.text
    assert 'class="seal seal-picture" src="data:image/png;base64,' in r.text


def test_ca_detail_page_shows_the_ca_and_searches_its_certificates(admin, services):
    from html import escape

    ctx = services.ca.context("sm2-issuing")
    ours = services.ca.issue("sm2-issuing", make_csr("sm2"), "organization-signing", "test", USCC)
    listing = admin.get("/console/certificates")
    assert 'href="/console/cas/sm2-issuing"' in listing.text
    page = admin.get("/console/cas/sm2-issuing")
    assert page.status_code == 200
    for shown in (ctx.certificate.subject.human_friendly, ctx.certificate.issuer.human_friendly, ctx.status):
        assert escape(shown) in page.text
    assert str(ctx.certificate.not_valid_after.year) in page.text
    assert f"EC {ctx.certificate.public_key.curve[1]}" in page.text
    for shard in range(ctx.crl_shards):
        assert services.ca.crl_url("sm2-issuing", shard) in page.text
    assert f"{services.ca.public_url}/ocsp" in page.text and "/ca-certs/sm2-issuing.pem" in page.text
    assert ours.serial_hex in page.text
    revoked_only = admin.get("/console/cas/sm2-issuing", params={"status": "revoked"})
    assert ours.serial_hex not in revoked_only.text
    assert ours.serial_hex in admin.get("/console/cas/sm2-issuing", params={"credit_code": USCC}).text
    assert admin.get("/console/cas/no-such-ca").status_code == 404
