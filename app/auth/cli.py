"""`pairwise users create NAME --role ROLE [--password P]`, `list` and `reset-totp NAME`."""

from __future__ import annotations

import getpass
import secrets
import sys
from typing import Annotated

import typer

from app.cli_common import engine, fail, settings
from app.vocabulary import Role

users = typer.Typer(no_args_is_help=True)


@users.command()
def create(
    username: Annotated[str, typer.Argument(metavar="NAME", help="login name")],
    role: Annotated[list[Role] | None, typer.Option(help="a role (repeatable)")] = None,
    password: Annotated[
        str | None, typer.Option(help="default: prompt, or generate and print one")
    ] = None,
) -> None:
    """create an account"""
    from app.auth.passwords import PasswordPolicyError
    from app.auth.service import AccountError, create_user
    from app.db import make_sessionmaker, transaction
    from app.projects.service import add_member, ensure_default_project

    config = settings()
    roles = {r.value for r in role or []}
    chosen = password or (
        getpass.getpass("Password: ") if sys.stdin.isatty() else secrets.token_urlsafe(12)
    )
    factory = make_sessionmaker(engine(config))
    try:
        with transaction(factory) as db:
            user = create_user(db, config, username, chosen, roles)
            project = ensure_default_project(db, config.policy_base_model)
            add_member(db, project, user)
    except (AccountError, PasswordPolicyError) as exc:
        fail(str(exc))
    typer.echo(f"created {user.username} with roles {', '.join(sorted(roles))}")
    if not password:
        typer.echo(f"password: {chosen}")


@users.command("list")
def list_users() -> None:
    """list accounts"""
    from sqlalchemy import select

    from app.db import make_sessionmaker, transaction
    from app.models import User

    factory = make_sessionmaker(engine(settings()))
    with transaction(factory) as db:
        for user in db.scalars(select(User).order_by(User.id)):
            state = "active" if user.active else "inactive"
            roles = ",".join(sorted(user.roles))
            typer.echo(f"{user.id:>5}  {user.username:<32} {roles:<24} {state}")


@users.command("reset-totp")
def reset_totp(
    username: Annotated[str, typer.Argument(metavar="NAME", help="login name")],
) -> None:
    """forget an account's second factor (a lost device); it enrols again at its next sign-in"""
    from sqlalchemy import select

    from app.auth.totp import reset
    from app.db import make_sessionmaker, transaction
    from app.models import User

    config = settings()
    with transaction(make_sessionmaker(engine(config))) as db:
        user = db.scalar(select(User).where(User.username == username))
        if user is None:
            fail(f"no account {username!r}")
        reset(db, user, None)
    typer.echo(f"second factor of {username} reset")
