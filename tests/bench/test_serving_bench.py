"""bench/serving.py on SQLite: the floor and our server side by side, duplicates counted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import text

from app.db import make_engine

ROOT = Path(__file__).resolve().parents[2]


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{name}_bench", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_one_run_prints_floor_and_server_rows_for_each_client_count(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    bench = load("serving")
    args = ["--databases", "sqlite", "--seconds", "1", "--warmup", "0", "--pairs", "300",
            "--clients", "1,8", "--baseline-ref", ""]  # fmt: skip
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    assert "in the database" not in out  # every label answered as stored is in the database
    lines = [ln for ln in out.splitlines() if ln.startswith("| SQLite")]
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    assert [(r[1].split(",")[0].split(" ")[0], r[2]) for r in rows] == [
        ("floor", "1"), ("floor", "8"), ("ours", "1"), ("ours", "8"),
    ]  # fmt: skip
    for r in rows:
        labels_per_s, stored, dup, errors = float(r[4]), int(r[8]), r[9], r[10]
        assert labels_per_s > 0 and stored > 0, r
        assert dup == "0" and errors == "0", r
    assert all(r[3].startswith("1 ") for r in rows[2:]), "our server takes submit-with-next"
    assert rows[0][7] == "1.0×" and rows[2][7].endswith("×")


def test_duplicates_are_counted_from_the_database(tmp_path: Path) -> None:
    setup = load("serving_setup")
    seeded = setup.seed_sqlite(tmp_path / "d.db", pairs=3, evaluators=2)
    engine = make_engine(seeded.url)
    with engine.begin() as conn:
        pair = conn.scalar(text("SELECT min(id) FROM pairs"))
        for user in seeded.user_ids:  # two live leases on a pair that needs one label
            conn.execute(
                text(
                    "INSERT INTO assignments (pair_id, user_id, status, left_side, expires_at,"
                    " created_at) VALUES (:p, :u, 'leased', 'a', '2999-01-01 00:00:00.000000',"
                    " '2000-01-01 00:00:00.000000')"
                ),
                {"p": pair, "u": user},
            )
    engine.dispose()
    assert setup.stored(seeded.url).duplicates == 1
    setup.reset(seeded.url)
    assert setup.stored(seeded.url).duplicates == 0
