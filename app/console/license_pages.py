"""Licenses: search by identifier or holder, detail with history, revoke, and CSV bulk import whose
progress is streamed row by row as each license is issued."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import logging
from collections.abc import Iterator
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from app.console.ca_pages import PAGE_SIZE
from app.console.web import PAGE_HEADERS, Console, redirect
from core.errors import DomainError, ErrorCode, invalid
from license_registry.identifier import ROOT
from license_registry.schemas import IssueIn

log = logging.getLogger("longtrust")
CSV_COLUMNS = (
    "type_code",
    "holder_name",
    "holder_id_type",
    "holder_id_number",
    "valid_from",
    "valid_to",
    "seal_id",
    "data",
)
MAX_CSV_BYTES = 5_000_000
MAX_CSV_ROWS = 10_000
MAX_HOLDER_ID = 18  # a citizen ID or credit code; anything longer is taken as an identifier
ROWS_MARK = "<!--rows-->"


def parse_csv(data: bytes) -> list[IssueIn]:
    """The rows of an import file (UTF-8, header CSV_COLUMNS; ``data`` a JSON object), each as the
    API's IssueIn. Raises invalid naming the first bad row (rows count from 1 after the header)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise invalid("the CSV file is not UTF-8", ErrorCode.CSV) from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise invalid(
            f"the CSV header lacks {', '.join(missing)}; columns: {','.join(CSV_COLUMNS)}", ErrorCode.CSV
        )
    rows = []
    for number, row in enumerate(reader, 1):
        if number > MAX_CSV_ROWS:
            raise invalid(f"at most {MAX_CSV_ROWS} rows per import", ErrorCode.CSV)
        try:
            rows.append(_issue_in(row))
        except (ValueError, ValidationError) as exc:
            raise invalid(f"row {number}: {str(exc).splitlines()[0]}", ErrorCode.CSV) from None
    if not rows:
        raise invalid("the CSV file has no rows", ErrorCode.CSV)
    return rows


def _issue_in(row: dict) -> IssueIn:
    holder = {"name": row["holder_name"], "id_number": row["holder_id_number"]}
    if row.get("holder_id_type"):
        holder["id_type"] = row["holder_id_type"]
    return IssueIn(
        type_code=row["type_code"],
        holder=holder,
        data=json.loads(row["data"] or "{}"),
        valid_from=row["valid_from"],
        valid_to=row.get("valid_to") or None,
        seal_id=row["seal_id"],
    )


def add_routes(router: APIRouter, console: Console, services) -> None:
    registry = services.registry

    @router.get("/console/licenses")
    def licenses(request: Request):
        page = console.page(request)
        principal = page.require("license.read")
        query = (request.query_params.get("q") or "").strip()
        cursor = request.query_params.get("cursor") or None
        items, next_cursor = [], None
        if query.startswith(ROOT) or len(query) > MAX_HOLDER_ID:  # an identifier, not a holder number
            return redirect(f"/console/licenses/{quote(query)}")
        if query:
            items, next_cursor = registry.list_licenses(PAGE_SIZE, cursor, principal, holder_id=query.upper())
        return console.render(page, "licenses.html", q=query, items=items, next_cursor=next_cursor)

    @router.get("/console/licenses/import")
    def import_form(request: Request):
        page = console.page(request)
        page.require("license.issue")
        return console.render(page, "license_import.html", columns=CSV_COLUMNS)

    @router.post("/console/licenses/import")
    async def import_csv(request: Request):
        page = console.page(request)
        form = await console.form(page)
        principal = page.require("license.issue")
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise invalid(page.t("choose_file"), ErrorCode.CSV)
        data = await upload.read(MAX_CSV_BYTES + 1)
        if len(data) > MAX_CSV_BYTES:
            raise invalid(f"the CSV file is larger than {MAX_CSV_BYTES} bytes", ErrorCode.CSV)
        rows = parse_csv(data)
        head, _, tail = (
            console.render(page, "import_progress.html", total=len(rows)).body.decode().partition(ROWS_MARK)
        )
        return StreamingResponse(
            _progress(head, tail, rows, page.t, lambda row: _issue(registry, row, principal)),
            media_type="text/html; charset=utf-8",
            headers=PAGE_HEADERS,
        )

    @router.get("/console/licenses/{identifier}")
    def license_(request: Request, identifier: str):
        page = console.page(request)
        principal = page.require("license.read")
        document = registry.get(identifier, principal)
        return console.render(
            page,
            "license.html",
            document=document,
            history=registry.history(identifier),
            done=request.query_params.get("done"),
        )

    @router.post("/console/licenses/{identifier}/revoke")
    async def revoke(request: Request, identifier: str):
        page = console.page(request)
        form = await console.form(page)
        principal = page.require("license.revoke")
        registry.revoke(identifier, str(form.get("reason") or ""), principal)
        return redirect(f"/console/licenses/{identifier}?done=revoked")


def _issue(registry, row: IssueIn, principal) -> str:
    # The row's hash as idempotency key: importing the same file again returns the same licenses.
    key = "csv-" + hashlib.sha256(row.model_dump_json().encode()).hexdigest()[:40]
    document = registry.issue(
        row.type_code,
        row.holder.model_dump(),
        row.data,
        row.valid_from,
        row.valid_to,
        row.seal_id,
        principal,
        key,
    )
    return document["identifier"]


def _progress(head: str, tail: str, rows: list[IssueIn], t, issue) -> Iterator[str]:
    yield head
    done = failed = 0
    for number, row in enumerate(rows, 1):
        try:
            line = f'<li class="ok">{number}: {html.escape(issue(row))}</li>'
            done += 1
        except DomainError as exc:
            line = f'<li class="failed">{number}: {html.escape(exc.detail)}</li>'
            failed += 1
        except Exception:  # one row's fault must not end the import of the others
            log.exception("license import row %d failed", number)
            line = f'<li class="failed">{number}: {html.escape(t("unexpected_error"))}</li>'
            failed += 1
        yield f"{line}<script>longtrust.progress({number}, {len(rows)})</script>\n"
    summary = html.escape(t("import_summary", done=done, failed=failed))
    yield f'<li class="summary" id="import-summary">{summary}</li>'
    yield tail
