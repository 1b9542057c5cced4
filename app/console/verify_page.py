"""The public verification page: anyone uploads a PDF, OFD, seal, stamp or e-license and sees the
report of the same VerifyService as POST /api/v1/verify/*, under the same anonymous rate limit and
the same body-size limit, with the pictures of the seals the report found."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile

from app.console.pictures import report_pictures
from app.console.web import Console
from app.rate_limits import client_address
from core.errors import ErrorCode, invalid
from core.threads import in_thread


def add_routes(router: APIRouter, console: Console, services) -> None:
    verifier, limits = services.verify, services.limits

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
        return console.render(
            page,
            "verify.html",
            report=report.to_dict(),
            pictures=report_pictures(report),
            filename=upload.filename,
        )
