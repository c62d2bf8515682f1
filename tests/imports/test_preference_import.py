"""Importing preference data: TRL and pairwise rows, all or nothing, export, revert."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.cli import main as cli_main
from app.domain.preferences import Selection, preference_rows
from app.export.service import ExportOptions, iter_records
from app.imports.records import collect
from app.imports.service import ImportNotRevertable, import_preferences, revert_import
from app.models import AuditEvent, Comparison, ImportedComparison, PreferenceImport, Project, Prompt
from app.prompts.importer import read_rows
from tests.factories import make_prompt

LIMIT = 2000


def jsonl(*objs: object) -> bytes:
    return b"".join((o if isinstance(o, bytes) else json.dumps(o).encode()) + b"\n" for o in objs)


def trl_rows(n: int) -> list[dict[str, str]]:
    return [
        {"prompt": f"question {i}", "chosen": f"good answer {i}", "rejected": f"bad {i}"}
        for i in range(n)
    ]


def parse(name: str, data: bytes):  # type: ignore[no-untyped-def]
    unit, rows = read_rows(name, data)
    return collect(unit, rows, LIMIT)


def count(db: Session, model: type) -> int:
    return int(db.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"prompt": "q", "chosen": "yes"}, "missing field: `rejected`"),
        ({"prompt": "q", "answer": "x"}, "needs `chosen`/`rejected`"),
        ({"prompt": "q", "response_a": "x", "response_b": "y", "choice": "c"}, "`choice`"),
        ({"prompt": "q", "chosen": "same", "rejected": "same"}, "the same text"),
        ({"prompt": "q", "chosen": "x", "rejected": "y", "strength": "huge"}, "`strength`"),
        (b'{"prompt": "broken', "bad JSON"),
    ],
)
def test_each_bad_row_named_with_its_line(bad: object, reason: str) -> None:
    parsed = parse("p.jsonl", jsonl(*trl_rows(2), bad, *trl_rows(1)))
    assert [p.line for p in parsed.problems] == [3]
    assert reason in parsed.problems[0].reason
    assert len(parsed.records) == 3


def test_plain_conversational_implicit_and_pairwise_rows() -> None:
    user = {"role": "user", "content": "hi"}
    rows = [
        {"prompt": "plain", "chosen": "c", "rejected": "r", "strength": "much"},
        {
            "prompt": [user],
            "chosen": [{"role": "assistant", "content": "hello"}],
            "rejected": [{"role": "assistant", "content": "go away"}],
        },
        {
            "chosen": [user, {"role": "assistant", "content": "hello"}],
            "rejected": [user, {"role": "assistant", "content": "no"}],
        },
        {"prompt": "pw", "response_a": "first", "response_b": "second", "choice": "B"},
    ]
    parsed = parse("p.jsonl", jsonl(*rows))
    assert parsed.problems == []
    plain, chat, implicit, pairwise = parsed.records
    assert (plain.response_a, plain.choice, plain.strength) == ("c", "a", "much")
    assert chat.prompt_messages == [user] and chat.response_b == "go away"
    assert implicit.prompt_messages == [user] and implicit.response_a == "hello"
    assert chat.content_hash == implicit.content_hash
    assert (pairwise.format, pairwise.choice) == ("pairwise", "b")


def test_csv_and_parquet() -> None:
    csv = b"prompt,response_a,response_b,choice\nq1,x,y,a\nq2,x,y,tie\n"
    assert [r.choice for r in parse("p.csv", csv).records] == ["a", "tie"]
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(trl_rows(3)), buf)
    parsed = parse("p.parquet", buf.getvalue())
    assert parsed.unit == "row" and len(parsed.records) == 3


def test_one_bad_row_stores_nothing_and_the_page_names_it(client, logged_in, project, db) -> None:
    _, csrf = logged_in("admin")
    data = jsonl(*trl_rows(4), {"prompt": "q", "chosen": "only"}, *trl_rows(2))
    form = {"csrf_token": csrf, "project": str(project.id), "source": "lab-set"}
    r = client.post(
        "/admin/imports", data=form, files={"file": ("pref.jsonl", data, "application/json")}
    )
    assert r.status_code == 422 and "nothing imported" in r.text
    assert "<td>5</td><td>missing field: `rejected`</td>" in r.text
    assert count(db, PreferenceImport) == count(db, ImportedComparison) == count(db, Prompt) == 0
    r = client.post(
        "/api/v1/imports",
        headers={"X-CSRF-Token": csrf},
        data={"project": str(project.id)},
        files={"file": ("pref.jsonl", data, "application/json")},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "line 5"
    assert count(db, ImportedComparison) == 0
    r = client.post(
        "/admin/imports",
        data={**form, "skip_bad": "true"},
        files={"file": ("pref.jsonl", data, "application/json")},
    )
    assert r.status_code == 200 and "stored 6 row(s)" in r.text and "lab-set" in r.text
    batch = db.scalars(select(PreferenceImport)).one()
    assert (batch.rows, batch.rejected, batch.source) == (6, 1, "lab-set")
    r = client.post(f"/api/v1/imports/{batch.id}/revert", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["removed"] == 6
    r = client.post(f"/api/v1/imports/{batch.id}/revert", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 409


def test_evaluators_cannot_import(client, logged_in, project) -> None:
    _, csrf = logged_in("evaluator")
    r = client.post(
        "/api/v1/imports",
        headers={"X-CSRF-Token": csrf},
        files={"file": ("p.jsonl", jsonl(*trl_rows(1)), "application/json")},
    )
    assert r.status_code == 403


def test_imported_rows_train_and_export_only_when_asked_then_revert(
    db: Session, project: Project
) -> None:
    existing = make_prompt(db, project, "question 0")
    rows = [*trl_rows(3), {"prompt": "pw", "response_a": "x", "response_b": "y", "choice": "tie"}]
    parsed = parse("p.jsonl", jsonl(*rows))
    outcome = import_preferences(
        db, project, parsed, source="hh", filename="p.jsonl", skip_bad=False, actor_id=None
    )
    assert outcome.imported and outcome.stored == 4 and outcome.prompts_added == 3
    assert count(db, Comparison) == 0  # nobody's labels
    assert list(preference_rows(db, project, Selection())) == []
    used = list(preference_rows(db, project, Selection(include_imported=True)))
    assert sorted(r.chosen for r in used) == ["good answer 0", "good answer 1", "good answer 2"]
    assert {r.prompt_id for r in used} >= {existing.id}  # linked to the stored prompt
    new = db.scalars(select(Prompt).where(Prompt.id != existing.id)).all()
    assert new and not any(p.active for p in new)  # never sampled
    exported = list(iter_records(db, project, ExportOptions(include_imported=True), secret="s"))
    assert {"prompt": "question 1", "chosen": "good answer 1", "rejected": "bad 1"} in exported
    assert list(iter_records(db, project, ExportOptions(), secret="s")) == []

    assert outcome.batch is not None
    assert revert_import(db, outcome.batch, None) == 4
    assert list(preference_rows(db, project, Selection(include_imported=True))) == []
    assert db.scalars(select(Prompt.id)).all() == [existing.id]  # what the import added is gone
    assert outcome.batch.status == "reverted"
    with pytest.raises(ImportNotRevertable):
        revert_import(db, outcome.batch, None)
    db.flush()
    actions = set(db.scalars(select(AuditEvent.action)))
    assert {"preferences.imported", "preferences.import_reverted"} <= actions


def test_cli_import_list_revert(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    from app.settings import get_settings

    get_settings.cache_clear()
    try:
        assert cli_main(["db", "upgrade"]) == 0
        create = ["users", "create", "root", "--role", "admin", "--password", "long pw!!"]
        assert cli_main(create) == 0
        f = tmp_path / "p.jsonl"
        f.write_bytes(jsonl(*trl_rows(2), {"prompt": "q"}))
        assert cli_main(["imports", "add", str(f)]) == 1
        assert "line 3: missing field" in capsys.readouterr().err
        assert cli_main(["imports", "add", str(f), "--skip-bad", "--source", "lab"]) == 0
        captured = capsys.readouterr()
        assert "import #1: stored 2 row(s), rejected 1" in captured.out
        assert "storing" in captured.err  # the progress bar
        assert cli_main(["imports", "list"]) == 0
        assert "#1\tactive\t2 row(s)\tlab" in capsys.readouterr().out
        assert cli_main(["imports", "revert", "1"]) == 0
        assert cli_main(["imports", "revert", "1"]) == 2
    finally:
        get_settings.cache_clear()


def test_the_raw_export_adds_imported_rows_marked_with_their_batch_when_asked(
    db: Session, project: Project, make_user
) -> None:
    from tests import factories as f

    labeller = make_user("evaluator")
    f.compare(db, f.make_pair(db, project), labeller, "a")
    rows = [*trl_rows(2), {"prompt": "pw", "response_a": "x", "response_b": "y", "choice": "tie"}]
    outcome = import_preferences(
        db,
        project,
        parse("p.jsonl", jsonl(*rows)),
        source="hh-rlhf",
        filename="p.jsonl",
        skip_bad=False,
        actor_id=None,
    )
    assert outcome.batch is not None

    def raw(**kw: object) -> list[dict[str, object]]:
        opts = ExportOptions(kind="raw", **kw)  # type: ignore[arg-type]
        return list(iter_records(db, project, opts, secret="s"))

    assert [r["source"] for r in raw()] == ["label"]  # imported rows only when asked
    every = raw(include_imported=True)
    assert [r["source"] for r in every] == ["label", "import", "import", "import"]
    imported = every[1:]
    assert {r["import_batch"] for r in imported} == {outcome.batch.id}
    assert {r["import_source"] for r in imported} == {"hh-rlhf"}
    assert [(r["import_line"], r["choice"]) for r in imported] == [(1, "a"), (2, "a"), (3, "tie")]
    assert all(r["annotator"] is None and r["pair_id"] is None for r in imported)
    # The TRL export's rule for ties: left out when asked (and always in preference rows).
    assert [r["import_line"] for r in raw(include_imported=True, exclude_ties=True)][1:] == [1, 2]
    # The same rows in Parquet, one schema (no annotator for imported rows).
    from app.export.parquet import write_parquet

    out = io.BytesIO()
    opts = ExportOptions(kind="raw", file_format="parquet", include_imported=True)
    assert write_parquet(db, project, opts, "s", out) == 4
    table = pq.read_table(io.BytesIO(out.getvalue())).to_pylist()
    assert table[0]["annotator"] == str(labeller.id) and table[1]["annotator"] is None
    assert table[3]["import_source"] == "hh-rlhf" and table[3]["import_line"] == 3
    revert_import(db, outcome.batch, None)
    assert [r["source"] for r in raw(include_imported=True)] == ["label"]
