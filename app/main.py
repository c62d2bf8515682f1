"""The application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.annotators import api as annotators_api
from app.annotators import routes as annotators_routes
from app.api import me
from app.api.errors import API_ERRORS
from app.auth import routes as auth_routes
from app.auth import totp_routes
from app.auth.ratelimit import LoginThrottle, TokenRateLimit
from app.body_limit import BodyLimitMiddleware
from app.dashboard import routes as dashboard_routes
from app.db import make_engine, make_sessionmaker
from app.deps import LoginRequired, SecondFactorRequired
from app.export import routes as export_routes
from app.labeling import api as labeling_api
from app.labeling import routes as labeling_routes
from app.observability import routes as observability_routes
from app.observability.middleware import ObservabilityMiddleware
from app.pages import api_docs, home
from app.policies import api as policies_api
from app.policies import routes as policies_routes
from app.projects import api as projects_api
from app.projects import routes as projects_routes
from app.prompts import api as prompts_api
from app.prompts import routes as prompts_routes
from app.quality import routes as quality_routes
from app.sampling import embedded as embedded_sampler
from app.security_headers import SecurityHeadersMiddleware
from app.settings import Settings, get_settings
from app.system import routes as system_routes
from app.training import api as training_api
from app.training import routes as training_routes
from app.web import render
from app.winrates import api as winrates_api
from app.winrates import routes as winrates_routes

PACKAGE = Path(__file__).resolve().parent
log = logging.getLogger("pairwise.db")
DATABASE_DOWN = (
    "The database is unavailable right now; nothing was saved. Try again in a few seconds."
)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/healthz"


def api_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", responses=API_ERRORS)
    router.include_router(me.router)
    router.include_router(prompts_api.router)
    router.include_router(annotators_api.router)
    router.include_router(export_routes.api_router)
    router.include_router(quality_routes.api_router)
    router.include_router(dashboard_routes.api_router)
    router.include_router(projects_api.router)
    router.include_router(labeling_api.router)
    router.include_router(system_routes.api)
    router.include_router(training_api.router)
    router.include_router(policies_api.router)
    router.include_router(winrates_api.router)
    return router


def page_routers() -> list[APIRouter]:
    return [
        auth_routes.router,
        totp_routes.router,
        home.router,
        api_docs.router,
        observability_routes.router,
        prompts_routes.router,
        annotators_routes.router,
        export_routes.router,
        projects_routes.router,
        quality_routes.router,
        dashboard_routes.router,
        labeling_routes.router,
        system_routes.router,
        training_routes.router,
        policies_routes.router,
        winrates_routes.router,
    ]


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.resolved_secret_key()  # refuse to start in production without a real secret
    settings.resolved_metrics_token()  # ... or with a weak metrics token
    engine = engine or make_engine(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for hook in app.state.startup_hooks:
            hook(app)
        yield
        for hook in app.state.shutdown_hooks:
            hook(app)

    app = FastAPI(
        title="Pairwise",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # app/pages/api_docs.py serves /docs from the package
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.login_throttle = LoginThrottle(
        settings.login_attempts_per_account, settings.login_attempts_per_ip
    )
    app.state.token_rate_limit = TokenRateLimit(settings.api_requests_per_minute)
    app.state.startup_hooks = []
    app.state.shutdown_hooks = []
    if settings.sampler_enabled:
        embedded_sampler.install(app)

    app.add_middleware(BodyLimitMiddleware, max_upload_bytes=settings.import_max_mb * 1024 * 1024)
    app.add_middleware(SecurityHeadersMiddleware, secure_cookies=settings.production)
    # Outermost: the request id and the timing cover every other layer.
    app.add_middleware(ObservabilityMiddleware)
    if settings.trusted_proxies:
        # Outside even that: the client address every layer logs, throttles and audits is the
        # one a trusted proxy forwarded; from anyone else X-Forwarded-For is ignored.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    app.mount("/static", StaticFiles(directory=str(PACKAGE / "static"), check_dir=False), "static")
    for router in page_routers():
        app.include_router(router)
    app.include_router(api_router())

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"detail": "Authentication required."},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.headers.get("hx-request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(SecondFactorRequired)
    async def second_factor_required(request: Request, _exc: SecondFactorRequired) -> Response:
        message = "Your roles need a second factor: enrol one at /account/totp first."
        if _wants_json(request):
            return JSONResponse({"detail": message}, status_code=403)
        if request.headers.get("hx-request") == "true":
            return Response(status_code=403, headers={"HX-Redirect": "/account/totp"})
        return RedirectResponse("/account/totp", status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        return render(
            request,
            "error.html",
            {"status": exc.status_code, "message": exc.detail},
            status_code=exc.status_code,
        )

    async def database_unavailable(request: Request, exc: Exception) -> Response:
        # Postgres restarting or unreachable, or the pool exhausted: a clear 503 the client
        # can retry, instead of a bare 500 after which the server drops the connection.
        reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
        log.warning("database unavailable: %s", reason[0] if reason else type(exc).__name__)
        headers = {"Retry-After": "5"}
        if _wants_json(request):
            return JSONResponse({"detail": DATABASE_DOWN}, status_code=503, headers=headers)
        response = render(
            request, "error.html", {"status": 503, "message": DATABASE_DOWN}, status_code=503
        )
        response.headers.update(headers)
        return response

    for error in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(error, database_unavailable)

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def out_of_range(request: Request, _exc: Exception) -> Response:
        # A number past the database's integer range (an id of 2**63, found by schemathesis):
        # the request is wrong, not the server. The session has already rolled back.
        return await http_error(
            request, HTTPException(422, "A number in the request is out of range.")
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"][1:]) or "body", "message": e["msg"]}
            for e in exc.errors()
        ]
        if _wants_json(request):
            return JSONResponse({"detail": errors}, status_code=422)
        message = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return render(request, "error.html", {"status": 422, "message": message}, status_code=422)

    return app


def app_from_environment() -> FastAPI:
    """The app as each `pairwise serve` process builds it: settings, logging, engine."""
    from app.observability.logs import configure_logging

    settings = get_settings()
    configure_logging(settings)
    return create_app(settings)
