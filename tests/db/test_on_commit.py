"""`on_commit`: effects outside the database happen only for work that was stored."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from app.db import make_engine, make_sessionmaker, on_commit


def test_callbacks_run_after_commit_and_are_dropped_on_rollback(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    factory = make_sessionmaker(engine)
    ran: list[str] = []
    with factory() as db:
        db.execute(text("SELECT 1"))
        on_commit(db, lambda: ran.append("undone"))
        db.rollback()
        db.execute(text("SELECT 1"))
        on_commit(db, lambda: ran.append("stored"))
        assert ran == []  # nothing before the commit
        db.commit()
        assert ran == ["stored"]
        db.commit()  # once only
    assert ran == ["stored"]
    engine.dispose()
