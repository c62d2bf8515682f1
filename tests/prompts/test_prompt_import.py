"""Prompt import: each validation error with its line, all-or-nothing, skip-bad, duplicates."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from app.cli import main as cli_main
from app.models import Prompt
from app.prompts.importer import ImportFileError, parse_bytes, parse_path
from app.prompts.service import import_prompts

LIMIT = 200


def jsonl(*objs: object) -> bytes:
    return b"".join((o if isinstance(o, bytes) else json.dumps(o).encode()) + b"\n" for o in objs)


GOOD = [{"prompt": f"question {i}", "tags": ["t"], "priority": i} for i in range(1, 7)]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (b'{"prompt": "unterminated', "bad JSON"),
        ({"text": "no prompt field"}, "missing field"),
        ({"prompt": "   "}, "empty text"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "unknown role 'robot'"),
        ({"prompt": "x" * (LIMIT + 1)}, "over the size limit"),
        (b'{"prompt": "caf\xe9"}', "wrong encoding"),
        ({"prompt": "ok", "priority": "high"}, "priority"),
        ({"prompt": "ok", "tags": "not-a-list-in-json"}, None),
    ],
)
def test_each_bad_record_reported_with_its_line(bad: object, reason: str | None) -> None:
    parsed = parse_bytes("p.jsonl", jsonl(*GOOD, bad), LIMIT)
    if reason is None:  # a comma string of tags is accepted
        assert parsed.problems == []
        return
    assert [p.line for p in parsed.problems] == [7]
    assert reason in parsed.problems[0].reason
    assert len(parsed.records) == 6


def test_binary_file_refused() -> None:
    with pytest.raises(ImportFileError, match="binary file"):
        parse_bytes("p.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\x00", LIMIT)


def test_bad_line_7_stores_nothing_then_skip_bad_imports_the_rest(db, project) -> None:
    data = jsonl(*GOOD, {"prompt": ""}, {"prompt": "after the bad one"})
    parsed = parse_bytes("p.jsonl", data, LIMIT)
    summary = import_prompts(db, project, parsed, skip_bad=False, actor_id=None)
    assert not summary.imported and summary.added == 0
    assert [(p.line, p.reason) for p in summary.rejected] == [(7, "empty text")]
    assert db.scalar(select(func.count()).select_from(Prompt)) == 0

    summary = import_prompts(db, project, parsed, skip_bad=True, actor_id=None)
    assert summary.imported and summary.added == 7 and len(summary.rejected) == 1
    texts = set(db.scalars(select(Prompt.text)))
    assert "after the bad one" in texts and "question 6" in texts
    stored = db.scalar(select(Prompt).where(Prompt.text == "question 3"))
    assert stored is not None and stored.tags == ["t"] and stored.priority == 3


def test_duplicates_within_file_and_stored_are_skipped(db, project) -> None:
    first = parse_bytes("a.jsonl", jsonl({"prompt": "same"}, {"prompt": "other"}), LIMIT)
    assert import_prompts(db, project, first, skip_bad=False, actor_id=None).added == 2
    second = parse_bytes(
        "b.jsonl", jsonl({"prompt": "new"}, {"prompt": "new"}, {"prompt": "same"}), LIMIT
    )
    summary = import_prompts(db, project, second, skip_bad=False, actor_id=None)
    assert summary.imported and summary.added == 1 and summary.skipped == 2
    reasons = {p.line: p.reason for p in summary.duplicates}
    assert reasons[2] == "duplicate of line 1"
    assert reasons[3].startswith("duplicate: already stored as prompt #")
    assert db.scalar(select(func.count()).select_from(Prompt)) == 3


def test_chat_messages_csv_and_parquet(db, project) -> None:
    msgs = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    parsed = parse_bytes("c.jsonl", jsonl({"messages": msgs, "tags": ["chat"]}), LIMIT)
    assert parsed.records[0].messages == msgs

    csv_data = b'prompt,tags,priority\n"a, with comma","x;y",2\n,z,1\nthird,,\n'
    parsed_csv = parse_bytes("p.csv", csv_data, LIMIT)
    assert [(p.line, p.reason) for p in parsed_csv.problems] == [(3, "empty text")]
    assert parsed_csv.records[0].tags == ["x", "y"] and parsed_csv.records[0].priority == 2
    with pytest.raises(ImportFileError, match="`prompt` column"):
        parse_bytes("p.csv", b"question\nhi\n", LIMIT)

    buf = io.BytesIO()
    pq.write_table(pa.table({"prompt": ["p1", "", "p3"], "priority": [1, 2, 3]}), buf)
    parsed_pq = parse_bytes("p.parquet", buf.getvalue(), LIMIT)
    assert [(p.line, p.reason) for p in parsed_pq.problems] == [(2, "empty text")]
    assert parsed_pq.unit == "row" and [r.text for r in parsed_pq.records] == ["p1", "p3"]

    summary = import_prompts(db, project, parsed, skip_bad=False, actor_id=None)
    stored = db.scalar(select(Prompt).where(Prompt.id.isnot(None)))
    assert summary.added == 1 and stored is not None and stored.messages == msgs


def test_saved_hugging_face_dataset(tmp_path: Path) -> None:
    import datasets

    datasets.Dataset.from_dict({"prompt": ["one", "two"], "tags": [["a"], []]}).save_to_disk(
        str(tmp_path / "ds")
    )
    parsed = parse_path(tmp_path / "ds", LIMIT)
    assert [r.text for r in parsed.records] == ["one", "two"] and parsed.records[0].tags == ["a"]


def test_fifty_thousand_lines_import_in_one_go(db, project) -> None:
    data = b"".join(b'{"prompt": "prompt number %d"}\n' % i for i in range(50_000))
    summary = import_prompts(
        db, project, parse_bytes("big.jsonl", data, LIMIT), skip_bad=False, actor_id=None
    )
    assert summary.added == 50_000
    assert db.scalar(select(func.count()).select_from(Prompt)) == 50_000


def test_upload_page_shows_summary_and_errors(client, logged_in, project, db) -> None:
    _, csrf = logged_in("admin")
    bad = jsonl(*GOOD, {"prompt": ""})
    r = client.post(
        "/admin/prompts/import",
        data={"csrf_token": csrf, "project": str(project.id)},
        files={"file": ("bad.jsonl", bad, "application/octet-stream")},
    )
    assert r.status_code == 422 and "nothing imported" in r.text and "empty text" in r.text
    assert db.scalar(select(func.count()).select_from(Prompt)) == 0
    r = client.post(
        "/admin/prompts/import",
        data={"csrf_token": csrf, "project": str(project.id), "skip_bad": "true"},
        files={"file": ("bad.jsonl", bad, "application/octet-stream")},
    )
    assert r.status_code == 200 and "added 6, skipped 0 duplicate(s), rejected 1" in r.text
    r = client.post(
        "/api/v1/prompts/import",
        headers={"X-CSRF-Token": csrf},
        files={"file": ("x.bin", b"\x00\x01\x02", "application/octet-stream")},
    )
    assert r.status_code == 422 and "unknown file type" in r.json()["errors"][0]["message"]
    r = client.post(
        "/api/v1/prompts/import",
        headers={"X-CSRF-Token": csrf},
        files={"file": ("b.jsonl", jsonl({"prompt": "q"}, b"{oops"), "application/octet-stream")},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "line 2"


def test_cli_import(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    from app.settings import get_settings

    get_settings.cache_clear()
    try:
        assert cli_main(["db", "upgrade"]) == 0
        assert (
            cli_main(["users", "create", "root", "--role", "admin", "--password", "long enough pw"])
            == 0
        )
        f = tmp_path / "p.jsonl"
        f.write_bytes(jsonl({"prompt": "a"}, {"prompt": ""}, {"prompt": "a"}))
        assert cli_main(["prompts", "import", str(f)]) == 1
        assert "line 2: empty text" in capsys.readouterr().err
        assert cli_main(["prompts", "import", str(f), "--skip-bad"]) == 0
        out = capsys.readouterr().out
        assert "line 3: skipped, duplicate of line 1" in out and "added 1, skipped 1" in out
        assert cli_main(["prompts", "import", str(f), "--project", "nope"]) == 2
    finally:
        get_settings.cache_clear()
