"""Each console page's main action, /verify and /docs, in headless Chromium against `longtrust serve`."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from app.console.license_pages import CSV_COLUMNS
from tests.browser.conftest import api_token, chrome, requested_urls
from tests.ca.csrs import make_csr
from tests.e2e.processes import cli, make_seal, wait_for
from tests.license_registry.support import COMPANY, COMPANY_SCHEMA, ISSUER, TYPE_CODE
from tests.seal_service.test_pdf import make_pdf, make_png

pytestmark = [pytest.mark.browser, pytest.mark.slow]
USCC = "11100000000013338W"
WAIT_S = 30


def by_id(driver, element_id: str):
    from selenium.webdriver.common.by import By

    return wait_for(lambda: driver.find_elements(By.ID, element_id), WAIT_S, f"#{element_id}")[0]


def text_of(driver, element_id: str) -> str:
    """The element's text, or "" while the page that held it is being replaced (a form posted)."""
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        return by_id(driver, element_id).text
    except StaleElementReferenceException:
        return ""


def css(driver, selector: str) -> list:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def click_and_confirm(driver, element_id: str) -> None:
    by_id(driver, element_id).click()
    wait_for(lambda: _alert(driver), WAIT_S, "the confirmation dialog").accept()


def _alert(driver):
    from selenium.common.exceptions import NoAlertPresentException

    try:
        return driver.switch_to.alert
    except NoAlertPresentException:
        return None


def sign_in(driver, server, token: str) -> None:
    driver.delete_all_cookies()
    driver.get(server.url + "/console/login")
    by_id(driver, "token").send_keys(token)
    by_id(driver, "sign-in").click()
    by_id(driver, "signed-in-as")


def bootstrap_token(server) -> str:
    return server.admin()["Authorization"].removeprefix("Bearer ")


def issue_certificate(server) -> str:
    r = httpx.post(
        server.url + "/api/v1/cas/sm2-issuing/certificates",
        headers=server.admin(),
        json={"csr_pem": make_csr("sm2").decode(), "profile": "organization-signing", "credit_code": USCC},
        timeout=60,
    )
    assert r.status_code == 201, r.text
    return r.json()["serial_hex"]


def test_sign_in_and_sign_out(server, browser, shots):
    browser.get(server.url + "/console/login?lang=zh")
    shots(browser, "login-zh")
    sign_in(browser, server, bootstrap_token(server))
    assert "bootstrap-admin" in by_id(browser, "signed-in-as").text
    shots(browser, "home")
    kept = browser.get_cookie("lt_console")
    by_id(browser, "logout").click()
    by_id(browser, "sign-in")
    browser.get(server.url + "/console/seals")
    assert urlsplit(browser.current_url).path == "/console/login"
    browser.add_cookie({k: kept[k] for k in ("name", "value", "path")})  # the cookie from before sign-out
    browser.get(server.url + "/console/seals")
    assert urlsplit(browser.current_url).path == "/console/login"


def test_revoke_a_certificate(server, browser, shots):
    serial = issue_certificate(server)
    sign_in(browser, server, bootstrap_token(server))
    browser.get(server.url + f"/console/certificates?credit_code={USCC}")
    by_id(browser, "certificates")
    shots(browser, "certificates")
    css(browser, f'a[href$="/{serial}"]')[0].click()
    click_and_confirm(browser, "revoke")
    assert by_id(browser, "cert-status").text == "revoked"
    shots(browser, "certificate-revoked")
    status = httpx.get(
        server.url + f"/api/v1/cas/sm2-issuing/certificates/{serial}", headers=server.admin(), timeout=30
    )
    assert status.json()["status"] == "revoked"


def test_ca_detail_and_its_certificate_search(server, browser, shots):
    serial = issue_certificate(server)
    sign_in(browser, server, bootstrap_token(server))
    browser.get(server.url + "/console/certificates")
    css(browser, 'a[href="/console/cas/sm2-issuing"]')[0].click()
    assert by_id(browser, "ca-status").text == "active"
    assert by_id(browser, "ca-key").text.startswith("EC ")
    assert css(browser, "#crls a")[0].get_attribute("href").endswith("/crl/sm2-issuing.crl")
    by_id(browser, "credit_code").send_keys(USCC)
    by_id(browser, "search").click()
    wait_for(lambda: css(browser, f'#certificates a[href$="/{serial}"]'), WAIT_S, "the issued certificate")
    shots(browser, "ca-detail")


def test_a_forged_post_without_the_csrf_token_is_refused(server, browser, shots):
    serial = issue_certificate(server)
    sign_in(browser, server, bootstrap_token(server))
    browser.get(server.url + "/console")
    browser.execute_script(
        """const f = document.createElement('form'); f.method = 'post'; f.action = arguments[0];
        const r = document.createElement('input'); r.name = 'reason'; r.value = 'keyCompromise';
        f.appendChild(r); document.body.appendChild(f); f.submit();""",
        f"/console/certificates/sm2-issuing/{serial}/revoke",
    )
    assert "CSRF" in by_id(browser, "error-message").text
    shots(browser, "csrf-refused")
    status = httpx.get(
        server.url + f"/api/v1/cas/sm2-issuing/certificates/{serial}", headers=server.admin(), timeout=30
    )
    assert status.json()["status"] == "good"


def test_make_a_seal_with_an_image_approve_it_and_grant_it(server, browser, shots, tmp_path):
    image = tmp_path / "seal.png"
    image.write_bytes(make_png(120, 120))
    sign_in(browser, server, bootstrap_token(server))
    browser.get(server.url + "/console/seals")
    by_id(browser, "seal-name").send_keys("测试局业务专用章")
    by_id(browser, "seal-owner").send_keys(USCC)
    wait_for(
        lambda: browser.execute_script("return document.getElementById('seal-preview').naturalWidth > 0"),
        WAIT_S,
        "the template preview",
    )
    by_id(browser, "seal-image").send_keys(str(image))
    wait_for(
        lambda: browser.execute_script(
            "return document.getElementById('seal-preview').src.startsWith('data:')"
        ),
        WAIT_S,
        "the preview of the uploaded image",
    )
    shots(browser, "seal-make-preview")
    by_id(browser, "make").click()
    request_id = by_id(browser, "request-id").text

    second = cli("token", "create", "--role", "security-admin", "--name", "second-operator", env=server.env)
    sign_in(browser, server, second)
    browser.get(server.url + "/console/approvals")
    shots(browser, "approvals")
    css(browser, f"#approval-{request_id} button.approve")[0].click()
    assert by_id(browser, "notice").text
    approved = httpx.get(server.url + f"/api/v1/approvals/{request_id}", headers=server.admin(), timeout=30)
    assert approved.json()["status"] == "approved"

    seals = httpx.get(server.url + "/api/v1/seals", headers=server.admin(), timeout=30).json()["items"]
    seal_id = seals[-1]["seal_id"]
    system = api_token(server, "approval-system", "oa-system")
    browser.get(server.url + f"/console/seals/{seal_id}")
    assert browser.execute_script("return document.getElementById('seal-picture').naturalWidth") == 120
    by_id(browser, "grant-token").send_keys(system["token_id"])
    by_id(browser, "grant").click()
    by_id(browser, "notice")
    shots(browser, "seal-granted")
    tokens = httpx.get(server.url + "/api/v1/tokens", headers=server.admin(), timeout=30).json()["items"]
    assert seal_id in next(t for t in tokens if t["token_id"] == system["token_id"])["seals"]
    by_id(browser, "suspend").click()
    wait_for(lambda: text_of(browser, "seal-status") == "suspended", WAIT_S, "the seal shown suspended")


def _license_setup(server) -> str:
    seal_id = make_seal(server, server.admin(), "测试局电子证照专用章", ISSUER)
    body = {
        "type_code": TYPE_CODE,
        "name": "建筑业企业资质证书",
        "issuer_code": ISSUER,
        "holder_kind": "organization",
        "schema": COMPANY_SCHEMA,
    }
    r = httpx.post(server.url + "/api/v1/license-types", headers=server.admin(), json=body, timeout=30)
    assert r.status_code == 201, r.text
    return seal_id


def test_license_csv_import_with_progress_search_and_history(server, browser, shots, tmp_path):
    seal_id = _license_setup(server)
    operator = api_token(server, "registry-operator", "registry", [seal_id])
    today = date.today()
    rows = [",".join(CSV_COLUMNS)]
    for i in range(5):
        data = f'"{{""certificate_number"": ""D{i}"", ""qualification"": ""一级""}}"'
        rows.append(
            f"{TYPE_CODE},某建设有限公司,001,{COMPANY},{today},{today + timedelta(days=90)},{seal_id},{data}"
        )
    csv_file = tmp_path / "licenses.csv"
    csv_file.write_text("\n".join(rows) + "\n", encoding="utf-8")

    sign_in(browser, server, operator["token"])
    browser.get(server.url + "/console/licenses/import")
    by_id(browser, "csv-file").send_keys(str(csv_file))
    by_id(browser, "import").click()
    summary = by_id(browser, "import-summary").text
    assert "5 issued, 0 failed" in summary
    assert browser.execute_script("return document.getElementById('import-progress').value") == 5
    shots(browser, "license-import")

    browser.get(server.url + "/console/licenses")
    by_id(browser, "license-q").send_keys(COMPANY)
    by_id(browser, "search").click()
    # the click navigates: wait for the results page, not the page it leaves
    links = wait_for(
        lambda: len(css(browser, "#licenses a")) == 5 and css(browser, "#licenses a"), WAIT_S, "5 results"
    )
    shots(browser, "licenses")
    links[0].click()
    by_id(browser, "history")
    shots(browser, "license-detail")
    by_id(browser, "reason").send_keys("企业注销")
    click_and_confirm(browser, "revoke")
    assert by_id(browser, "license-status").text == "revoked"


def test_audit_proof_check(server, browser, shots):
    sign_in(browser, server, bootstrap_token(server))

    def proof_link():
        browser.get(server.url + "/console/audit")
        return css(browser, "a.proof-link")

    wait_for(proof_link, WAIT_S, "a sequenced audit event")
    wait_for(
        lambda: (
            httpx.get(server.url + "/api/v1/audit/checkpoint", headers=server.admin(), timeout=30).is_success
        ),
        WAIT_S,
        "a signed checkpoint",
    )
    shots(browser, "audit")
    browser.get(server.url + "/console/audit/proof/0")
    assert by_id(browser, "proof-result").get_attribute("class") == "passed"
    shots(browser, "audit-proof")


def test_hub_outbox_page(server, browser, shots):
    sign_in(browser, server, api_token(server, "registry-operator", "registry-hub")["token"])
    browser.get(server.url + "/console/hub?lang=zh")
    assert by_id(browser, "outbox-pending").text.isdigit()
    shots(browser, "hub")


def test_verify_page_shows_a_stamped_pdf_as_passed_with_the_seal_image(server, browser, shots, tmp_path):
    seal_id = make_seal(server, server.admin(), "测试局业务专用章", USCC)
    system = api_token(server, "approval-system", "oa-stamp", [seal_id])
    stamped = httpx.post(
        server.url + f"/api/v1/seals/{seal_id}/stamp/pdf",
        headers={"Authorization": f"Bearer {system['token']}", "Content-Type": "application/pdf"},
        content=make_pdf(),
        timeout=60,
    )
    assert stamped.status_code == 200, stamped.text
    pdf = tmp_path / "stamped.pdf"
    pdf.write_bytes(stamped.content)

    browser.delete_all_cookies()
    browser.get(server.url + "/verify")
    by_id(browser, "verify-file").send_keys(str(pdf))
    by_id(browser, "verify").click()
    assert by_id(browser, "indication").text == "TOTAL_PASSED"
    pictures = css(browser, "img.seal-picture")
    assert pictures and browser.execute_script("return arguments[0].naturalWidth", pictures[0]) > 0
    shots(browser, "verify-pdf")


def test_docs_render_with_outbound_network_blocked(server, tmp_path, shots):
    driver = chrome(tmp_path / "profile", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1")
    try:
        driver.get(server.url + "/docs")
        operations = wait_for(lambda: css(driver, ".opblock"), WAIT_S, "Swagger UI operations")
        assert len(operations) > 30
        shots(driver, "docs-offline")
        urls = requested_urls(driver)
    finally:
        driver.quit()
    outside = [
        u for u in urls if urlsplit(u).scheme in ("http", "https") and urlsplit(u).hostname != "127.0.0.1"
    ]
    assert urls and not outside
