"""The public verification page: anyone uploads a PDF, OFD, seal, stamp or e-license and sees the
report of the same VerifyService as POST /api/v1/verify/*, under the same anonymous rate limit and
the same body-size limit, with the seal pictures the file carries."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile

from app.console.pictures import pictures_in
from app.console.web import Console
from app.rate_limits import client_address
from core.errors import ErrorCode, invalid
from core.threads import in_thread


def add_routes(router: APIRouter, console: Console, services) -> None:
    verifier, limits, settings = services.verify, services.limits, services.settings

    @router.get("/verify")
    def verify_form(request: Request):
        page = console.page(request, signed_in=False)
        return console.render(page, "verify.html", report=None)

    @router.post("/verify")
    async def verify(request: Request):
        limits.verification(client_address(request))  # counted before the body is read
        page = console.page(request, signed_in=False)
        form = await request.form(max_files=1)
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise invalid(page.t("choose_file"), ErrorCode.FILE)
        data = await upload.read()
        if not data:
            raise invalid(page.t("empty_file"), ErrorCode.FILE)
        report = await in_thread(verifier.file, data)
        pictures = await in_thread(pictures_in, data, settings.seal_attribute_oid)
        return console.render(
            page, "verify.html", report=report.to_dict(), pictures=pictures, filename=upload.filename
        )
