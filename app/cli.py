"""The `pairwise` command line."""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from collections.abc import Callable, Sequence

from sqlalchemy import select

from app.db import check_connection, make_engine, make_sessionmaker, transaction
from app.settings import Settings, SettingsError, get_settings

Handler = Callable[[argparse.Namespace, Settings], int]
_COMMANDS: dict[str, Handler] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _COMMANDS[name] = fn
        return fn

    return register


def _engine(settings: Settings):  # type: ignore[no-untyped-def]
    engine = make_engine(settings.resolved_database_url)
    check_connection(engine)
    return engine


@command("db.upgrade")
def db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from app.migrate import upgrade

    engine = _engine(settings)
    upgrade(engine, args.revision)
    print(f"database at {engine.url.render_as_string(hide_password=True)} is at {args.revision}")
    return 0


@command("db.downgrade")
def db_downgrade(args: argparse.Namespace, settings: Settings) -> int:
    from app.migrate import downgrade

    downgrade(_engine(settings), args.revision)
    return 0


@command("users.create")
def users_create(args: argparse.Namespace, settings: Settings) -> int:
    from app.auth.passwords import PasswordPolicyError
    from app.auth.service import AccountError, create_user
    from app.projects.service import add_member, ensure_default_project

    password = args.password or (
        getpass.getpass("Password: ") if sys.stdin.isatty() else secrets.token_urlsafe(12)
    )
    factory = make_sessionmaker(_engine(settings))
    try:
        with transaction(factory) as db:
            user = create_user(db, settings, args.username, password, set(args.role))
            project = ensure_default_project(db, settings.policy_base_model)
            add_member(db, project, user)
    except (AccountError, PasswordPolicyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"created {user.username} with roles {', '.join(sorted(args.role))}")
    if not args.password:
        print(f"password: {password}")
    return 0


@command("users.list")
def users_list(args: argparse.Namespace, settings: Settings) -> int:
    from app.models import User

    factory = make_sessionmaker(_engine(settings))
    with transaction(factory) as db:
        for user in db.scalars(select(User).order_by(User.id)):
            state = "active" if user.active else "inactive"
            print(f"{user.id:>5}  {user.username:<32} {','.join(sorted(user.roles)):<24} {state}")
    return 0


@command("serve")
def serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from app.main import create_app

    host = args.host or settings.host
    port = args.port or settings.port
    app = create_app(settings, _engine(settings))
    print(f"Pairwise is running at http://{host}:{port}/", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", workers=1)
    return 0


@command("demo")
def demo(args: argparse.Namespace, settings: Settings) -> int:
    from app.demo import run_demo

    return run_demo(settings, host=args.host, port=args.port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pairwise", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the web server")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(key="serve")

    p = sub.add_parser("demo", help="migrate, seed an admin and run everything on one machine")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(key="demo")

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_cmd", required=True)
    p = db.add_parser("upgrade", help="migrate to the newest schema")
    p.add_argument("revision", nargs="?", default="head")
    p.set_defaults(key="db.upgrade")
    p = db.add_parser("downgrade", help="migrate down")
    p.add_argument("revision", nargs="?", default="base")
    p.set_defaults(key="db.downgrade")

    users = sub.add_parser("users", help="accounts").add_subparsers(dest="users_cmd", required=True)
    p = users.add_parser("create", help="create an account")
    p.add_argument("username")
    p.add_argument("--role", action="append", choices=["evaluator", "admin", "ml"], default=[])
    p.add_argument("--password", help="default: prompt, or generate and print one")
    p.set_defaults(key="users.create")
    p = users.add_parser("list", help="list accounts")
    p.set_defaults(key="users.list")

    from app.cli_ext import REGISTRARS

    for register in REGISTRARS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
        return _COMMANDS[args.key](args, settings)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    # Through the importable module, so that `python -m app.cli` reads the same command
    # registry that packages fill via `app.cli.command` (not a second copy in __main__).
    from app.cli import main as package_main

    sys.exit(package_main())
