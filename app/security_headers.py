"""Security headers on every response, with a per-request CSP nonce for inline scripts.

Everything but the static files is `Cache-Control: no-store`: pages and API answers carry
a user's data (and CSRF tokens), which a shared or back-button cache must not keep.
"""

from __future__ import annotations

import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, secure_cookies: bool) -> None:
        self.app = app
        self.hsts = secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        csp = (
            "default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self'; img-src 'self' data:; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                path = scope.get("path", "")
                headers.append((b"content-security-policy", csp.encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"x-frame-options", b"DENY"))
                headers.append((b"referrer-policy", b"same-origin"))
                if not path.startswith("/static/") and not any(
                    k.lower() == b"cache-control" for k, _ in headers
                ):
                    headers.append((b"cache-control", b"no-store"))
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
            await send(message)

        await self.app(scope, receive, send_with_headers)
