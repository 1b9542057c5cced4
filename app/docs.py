"""The API documentation: Swagger UI served from the swagger-ui-py package's bundled assets (no
CDN, so `/docs` works on an intranet) and an OpenAPI document with clean schema names, a bearer
security scheme, and the summaries, descriptions, examples and binary bodies of app.api_reference."""

from __future__ import annotations

import importlib.resources
import json

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.api_reference import OPERATIONS

ASSETS = "/docs/assets"
DESCRIPTION = """\
Certificates, seals, e-licenses and verification for online government services.

**Authentication.** Management operations need `Authorization: Bearer <token>` (press *Authorize*);
each names the action it needs and `policies/access.yaml` says which roles hold it. Verification,
CRLs, OCSP, time stamps, CA certificates, the trust list and the probes are public.

**Errors** are RFC 9457 `application/problem+json` (`type`, `title`, `status`, `detail`).

**Stamps on PDFs.** Pages are numbered from 0. `x` and `y` are PDF points (1/72 inch) giving the
lower-left corner of the seal image, measured from the bottom-left corner of the page.

**Lists** answer `{items, next_cursor}`; pass `next_cursor` back as `cursor` for the next page.
"""


def install(app: FastAPI) -> None:
    """Serve `/docs` and `/docs/assets/*` and replace ``app.openapi`` with the documented version."""
    static = importlib.resources.files("swagger_ui") / "static"
    app.mount(ASSETS, StaticFiles(directory=str(static)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )

    def openapi() -> dict:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=DESCRIPTION,
                routes=app.routes,
            )
            app.openapi_schema = document(clean_schema_names(spec))
        return app.openapi_schema

    app.openapi = openapi


def _short_name(name: str) -> str:
    """``license_registry__schemas__IssueIn`` → ``LicenseRegistryIssueIn``."""
    parts = name.split("__")
    room = "".join(word.capitalize() for word in parts[0].split("_"))
    return room + parts[-1]


def clean_schema_names(spec: dict) -> dict:
    """Rename components FastAPI qualified with their module (``ca__schemas__IssueIn``) to
    ``CaIssueIn`` and rewrite every reference to them."""
    schemas = spec.get("components", {}).get("schemas", {})
    renames = {name: _short_name(name) for name in schemas if "__" in name}
    if not renames:
        return spec
    text = json.dumps(spec)
    for old, new in renames.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    spec = json.loads(text)
    spec["components"]["schemas"] = {
        renames.get(name, name): {**body, "title": renames.get(name, body.get("title", name))}
        for name, body in spec["components"]["schemas"].items()
    }
    return spec


def document(spec: dict) -> dict:
    """Merge app.api_reference into the operations: summary, description (a route's docstring
    wins), binary request bodies and JSON examples."""
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            reference = OPERATIONS.get((method, path))
            if reference is None:
                continue
            operation["summary"] = reference["summary"]
            if not operation.get("description"):
                operation["description"] = reference["description"]
            _merge_body(operation, reference.get("requestBody"))
    return spec


def _merge_body(operation: dict, body: dict | None) -> None:
    if body is None:
        return
    existing = operation.setdefault("requestBody", {"content": {}})
    for media, content in body.get("content", {}).items():
        existing["content"].setdefault(media, {}).update(content)
    if body.get("required"):
        existing["required"] = True
