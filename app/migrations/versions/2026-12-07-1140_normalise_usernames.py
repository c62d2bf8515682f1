"""Usernames stored in their normal form (NFKC, case-folded, stripped), as logins look them up.

A frozen copy of `app.auth.usernames.normalize_username` as it was when this ran (a
migration must not change when the app's code does). Two accounts whose names meet in one
normal form stop the upgrade with both names, for an operator to rename one first; the
downgrade keeps the normalised names (the originals are not kept).

Revision ID: 384a56f7ce5a
Revises: 7c1a0e5f3b21
Create Date: 2026-12-01 10:00:00
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "384a56f7ce5a"
down_revision: str | None = "7c1a0e5f3b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

users = sa.table("users", sa.column("id", sa.Integer), sa.column("username", sa.String))


def _normal(raw: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", raw).casefold()).strip()


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(users.c.id, users.c.username)).all()
    owner: dict[str, str] = {}
    for _, name in rows:
        normal = _normal(name)
        if normal in owner:
            raise RuntimeError(
                f"accounts {owner[normal]!r} and {name!r} have the same normalised name "
                f"{normal!r}; rename one of them, then upgrade again"
            )
        owner[normal] = name
    for user_id, name in rows:
        if _normal(name) != name:
            conn.execute(users.update().where(users.c.id == user_id).values(username=_normal(name)))


def downgrade() -> None:
    pass
