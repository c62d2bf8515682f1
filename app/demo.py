"""`pairwise demo`: the whole system on one machine (SQLite, bundled models, one admin)."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from app.auth.service import create_user
from app.db import check_connection, make_engine, make_sessionmaker, transaction
from app.migrate import upgrade
from app.models import User, UserRole
from app.projects.service import add_member, ensure_default_project
from app.sampling.demo_prompts import seed_demo_prompts
from app.settings import Settings

ADMIN_USERNAME = "admin"


def seed(settings: Settings) -> str | None:
    """Create the default project and, only the first time, the admin. Returns its password."""
    engine = make_engine(settings.resolved_database_url)
    check_connection(engine)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    password = None
    with transaction(factory) as db:
        project = ensure_default_project(db, settings.policy_base_model)
        seed_demo_prompts(db, project)  # so the sampler has something to sample at once
        has_admin = db.scalar(select(UserRole.user_id).where(UserRole.role == "admin").limit(1))
        if (
            has_admin is None
            and db.scalar(select(User).where(User.username == ADMIN_USERNAME)) is None
        ):
            password = secrets.token_urlsafe(12)
            user = create_user(db, settings, ADMIN_USERNAME, password, {"admin", "evaluator", "ml"})
            add_member(db, project, user)
    engine.dispose()
    return password


def run_demo(settings: Settings, host: str | None = None, port: int | None = None) -> int:
    import uvicorn

    from app.main import create_app
    from app.observability.logs import configure_logging

    configure_logging(settings)
    password = seed(settings)
    host = host or settings.host
    port = port or settings.port
    app = create_app(settings)
    print("", flush=True)
    print(f"  Pairwise is running at http://{host}:{port}/", flush=True)
    if password:
        print(f"  Admin login: {ADMIN_USERNAME} / {password}   (shown once; write it down)")
    else:
        print(f"  Log in as {ADMIN_USERNAME} with the password printed on the first run.")
    if settings.sampler_enabled:
        print("  The sampler is preparing the first pairs (about a minute the first time).")
    print("", flush=True)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        log_level="warning",
        access_log=False,
        proxy_headers=False,  # the app believes forwarded headers from TRUSTED_PROXIES only
    )
    return 0
