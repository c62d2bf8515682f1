"""The application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.annotators import api as annotators_api
from app.annotators import routes as annotators_routes
from app.api import me
from app.api.errors import API_ERRORS
from app.auditlog import routes as auditlog_routes
from app.auth import routes as auth_routes
from app.auth import totp_routes
from app.auth.ratelimit import LoginThrottle, TokenRateLimit
from app.body_limit import BodyLimitMiddleware
from app.dashboard import routes as dashboard_routes
from app.db import make_engine, make_sessionmaker
from app.demonstrations import api as demonstrations_api
from app.demonstrations import routes as demonstrations_routes
from app.error_handlers import install_error_handlers
from app.export import routes as export_routes
from app.imports import api as imports_api
from app.imports import routes as imports_routes
from app.labeling import api as labeling_api
from app.labeling import history_api, history_routes
from app.labeling import routes as labeling_routes
from app.loop import routes as loop_routes
from app.observability import routes as observability_routes
from app.observability.middleware import ObservabilityMiddleware
from app.pages import api_docs, home
from app.pairs import api as pairs_api
from app.pairs import review_routes
from app.pairs import routes as pairs_routes
from app.playground import engines as playground_engines
from app.playground import routes as playground_routes
from app.policies import api as policies_api
from app.policies import routes as policies_routes
from app.projects import api as projects_api
from app.projects import routes as projects_routes
from app.prompts import api as prompts_api
from app.prompts import routes as prompts_routes
from app.quality import cohort_api
from app.quality import routes as quality_routes
from app.sampling import embedded as embedded_sampler
from app.security_headers import SecurityHeadersMiddleware
from app.settings import Settings, get_settings
from app.snapshots import install as install_snapshots
from app.system import routes as system_routes
from app.training import api as training_api
from app.training import routes as training_routes
from app.winrates import api as winrates_api
from app.winrates import routes as winrates_routes

PACKAGE = Path(__file__).resolve().parent
log = logging.getLogger("pairwise.db")


def api_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", responses=API_ERRORS)
    router.include_router(me.router)
    router.include_router(prompts_api.router)
    router.include_router(imports_api.router)
    router.include_router(annotators_api.router)
    router.include_router(cohort_api.router)
    router.include_router(export_routes.api_router)
    router.include_router(quality_routes.api_router)
    router.include_router(dashboard_routes.api_router)
    router.include_router(projects_api.router)
    router.include_router(labeling_api.router)
    router.include_router(history_api.router)
    router.include_router(system_routes.api)
    router.include_router(training_api.router)
    router.include_router(policies_api.router)
    router.include_router(winrates_api.router)
    router.include_router(pairs_api.router)
    router.include_router(pairs_api.review_router)
    router.include_router(demonstrations_api.router)
    router.include_router(auditlog_routes.api_router)
    return router


def page_routers() -> list[APIRouter]:
    return [
        auth_routes.router,
        totp_routes.router,
        home.router,
        api_docs.router,
        observability_routes.router,
        prompts_routes.router,
        imports_routes.router,
        annotators_routes.router,
        export_routes.router,
        projects_routes.router,
        quality_routes.router,
        dashboard_routes.router,
        labeling_routes.router,
        history_routes.router,
        system_routes.router,
        training_routes.router,
        policies_routes.router,
        winrates_routes.router,
        loop_routes.router,
        pairs_routes.router,
        review_routes.router,
        demonstrations_routes.router,
        playground_routes.router,
        auditlog_routes.router,
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
    install_snapshots(app)
    playground_engines.install(app)
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

    install_error_handlers(app)
    return app


def app_from_environment() -> FastAPI:
    """The app as each `pairwise serve` process builds it: settings, logging, engine."""
    from app.observability.logs import configure_logging

    settings = get_settings()
    configure_logging(settings)
    return create_app(settings)
