"""Request bodies past a size limit are refused with 413 before the app holds them in memory."""

from __future__ import annotations

from fastapi import HTTPException
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# JSON and form bodies: the largest legitimate one (guidelines, 100,000 characters) is
# well under this. File uploads (multipart) get the prompt import limit instead.
MAX_BODY_BYTES = 2 * 1024 * 1024
MULTIPART_OVERHEAD = 1024 * 1024


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit // 1024} KB.")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_upload_bytes: int) -> None:
        self.app = app
        self.max_upload = max_upload_bytes + MULTIPART_OVERHEAD

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        multipart = headers.get(b"content-type", b"").startswith(b"multipart/form-data")
        limit = self.max_upload if multipart else MAX_BODY_BYTES
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            error = BodyTooLarge(limit)
            api = scope.get("path", "").startswith("/api/")
            response = (
                JSONResponse({"detail": error.detail}, 413)
                if api
                else PlainTextResponse(error.detail, 413)
            )
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            # A chunked body declares no length: count as it arrives. The app's error
            # handler turns the HTTPException into a 413 page or JSON body.
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)
