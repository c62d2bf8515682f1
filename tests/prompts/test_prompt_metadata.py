"""Prompt metadata: an upload's other columns kept, shown, filtered on, exported."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.export.service import ExportOptions, iter_lines
from app.models import Prompt
from app.prompts.importer import parse_bytes
from app.prompts.service import PromptFilter, import_prompts, list_prompts
from tests.factories import compare, make_pair

CSV = (
    b"prompt,tags,external_id,difficulty,source\n"
    b"easy one,t,ext-1,easy,lab\n"
    b"hard one,t,ext-2,hard,lab\n"
    b"plain,,,,\n"
)


def test_extra_columns_kept_shown_filtered_and_exported(
    db, project, client, logged_in, make_user
) -> None:
    parsed = parse_bytes("p.csv", CSV, 1000)
    assert parsed.problems == []
    import_prompts(db, project, parsed, skip_bad=False, actor_id=None)
    hard = db.scalars(select(Prompt).where(Prompt.text == "hard one")).one()
    assert hard.meta == {"difficulty": "hard", "source": "lab"} and hard.external_id == "ext-2"
    plain = db.scalars(select(Prompt).where(Prompt.text == "plain")).one()
    assert plain.meta == {} and plain.external_id is None
    jsonl = json.dumps({"prompt": "from json", "level": 3, "nested": {"a": [1]}}).encode()
    import_prompts(db, project, parse_bytes("p.jsonl", jsonl, 1000), skip_bad=False, actor_id=None)
    numbered = db.scalars(select(Prompt).where(Prompt.text == "from json")).one()
    assert numbered.meta == {"level": "3", "nested": {"a": [1]}}

    def texts(**filt: str) -> list[str]:
        page = list_prompts(db, project.id, PromptFilter(**filt), before=None)
        return [r.prompt.text for r in page.rows]

    assert texts(meta="difficulty=hard") == ["hard one"]
    assert sorted(texts(meta="source")) == ["easy one", "hard one"]
    assert texts(meta="level=3") == ["from json"]
    assert texts(external_id="ext-1") == ["easy one"]

    _, csrf = logged_in("admin")
    page = client.get(f"/admin/prompts?project={project.id}&meta=difficulty%3Dhard")
    assert page.status_code == 200 and "hard one" in page.text and "easy one" not in page.text
    assert "<dt>difficulty</dt><dd>hard</dd>" in page.text
    api = client.get(f"/api/v1/prompts?project={project.id}&external_id=ext-2").json()
    assert [p["meta"] for p in api["items"]] == [{"difficulty": "hard", "source": "lab"}]

    on_hard, on_plain = make_pair(db, project, prompt=hard), make_pair(db, project, prompt=plain)
    compare(db, on_hard, make_user("evaluator"), "a")
    db.flush()
    found = client.get(f"/api/v1/pairs?project={project.id}&meta=difficulty%3Dhard").json()
    assert [row["id"] for row in found["items"]] == [on_hard.id] != [on_plain.id]
    detail = client.get(f"/admin/data/pairs/{on_hard.id}")
    assert detail.status_code == 200 and "<dd>ext-2</dd>" in detail.text

    raw = [json.loads(line) for line in iter_lines(db, project, ExportOptions(kind="raw"), "s")]
    assert raw[0]["prompt_external_id"] == "ext-2"
    assert raw[0]["prompt_meta"] == {"difficulty": "hard", "source": "lab"}
    csv_lines = list(iter_lines(db, project, ExportOptions(kind="raw", file_format="csv"), "s"))
    assert "ext-2" in csv_lines[1] and '""difficulty"": ""hard""' in csv_lines[1]
