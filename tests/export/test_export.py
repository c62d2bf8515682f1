"""Export: TRL preference rows with the right sides, raw rows, filters, streaming download."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.export.service import RAW_FIELDS, ExportOptions, iter_lines, pseudonym
from tests import factories as f

CHAT = [{"role": "system", "content": "be kind"}, {"role": "user", "content": "hello?"}]


@pytest.fixture
def seeded(db, project, make_user):
    u1, u2, u3, bad = (make_user("evaluator") for _ in range(4))
    plain = f.make_pair(
        db, project, prompt=f.make_prompt(db, project, "What is 2+2?"), text_a="4", text_b="5"
    )
    f.compare(db, plain, u1, "a", left="b")
    f.compare(db, plain, u2, "a")
    f.compare(db, plain, u3, "b")
    chat = f.make_pair(
        db,
        project,
        prompt=f.make_prompt(db, project, "chat", messages=CHAT),
        text_a="rude",
        text_b="hi!",
    )
    f.compare(db, chat, u1, "b", left="b", at=datetime(2026, 1, 5, tzinfo=UTC))
    f.compare(db, chat, u2, "b", at=datetime(2026, 1, 5, tzinfo=UTC))
    tie = f.make_pair(db, project, text_a="x", text_b="y")
    f.compare(db, tie, u1, "tie")
    split = f.make_pair(db, project, text_a="p", text_b="q")
    f.compare(db, split, u1, "a")
    f.compare(db, split, u2, "b")
    excluded = f.make_pair(db, project, text_a="keep me out", text_b="n")
    f.compare(db, excluded, bad, "a", flags=["unsafe"])
    project.settings = {**project.settings, "excluded_annotators": [bad.id]}
    db.commit()
    return {"users": (u1, u2, u3, bad), "plain": plain, "chat": chat}


def lines(db, project, **kw) -> list[dict]:
    text = "".join(iter_lines(db, project, ExportOptions(**kw), "s" * 40))
    return [json.loads(x) for x in text.splitlines()]


def test_trl_majority_rows_with_chat_messages(db, project, seeded) -> None:
    rows = lines(db, project, kind="trl")
    assert rows == [
        {
            "prompt": [{"role": "user", "content": "What is 2+2?"}],
            "chosen": [{"role": "assistant", "content": "4"}],
            "rejected": [{"role": "assistant", "content": "5"}],
        },
        {
            "prompt": CHAT,
            "chosen": [{"role": "assistant", "content": "hi!"}],
            "rejected": [{"role": "assistant", "content": "rude"}],
        },
    ]
    per_comparison = lines(db, project, kind="trl", aggregate=False)
    assert len(per_comparison) == 7  # every a/b judgement of non-excluded annotators
    assert [r["chosen"][0]["content"] for r in per_comparison[:3]] == ["4", "4", "5"]
    kept = lines(db, project, kind="trl", aggregate=False, exclude_excluded=False)
    assert kept[-1]["chosen"] == [{"role": "assistant", "content": "keep me out"}]


def test_trl_plain_prompts_are_strings(db, project, make_user) -> None:
    user = make_user("evaluator")
    pr = f.make_pair(
        db, project, prompt=f.make_prompt(db, project, "Name a colour."), text_a="blue", text_b="7"
    )
    f.compare(db, pr, user, "a", left="b")
    assert lines(db, project, kind="trl") == [
        {"prompt": "Name a colour.", "chosen": "blue", "rejected": "7"}
    ]


def test_raw_rows_sides_filters_and_pseudonyms(db, project, seeded) -> None:
    u1 = seeded["users"][0]
    rows = lines(db, project, kind="raw")
    assert len(rows) == 8
    first = rows[0]
    assert first["annotator"] == u1.id and first["choice"] == "a" and first["left_side"] == "b"
    assert first["chose_side_shown"] == "right" and first["strength"] == "clear"
    assert set(first) >= {"policy_version_a", "guidelines_version", "decision_ms", "created_at"}
    assert len(lines(db, project, kind="raw", exclude_ties=True)) == 7
    jan = lines(
        db,
        project,
        kind="raw",
        since=datetime(2026, 1, 1, tzinfo=UTC),
        until=datetime(2026, 2, 1, tzinfo=UTC),
    )
    assert [r["pair_id"] for r in jan] == [seeded["chat"].id] * 2
    pseudo = lines(db, project, kind="raw", pseudonymise=True)
    assert pseudo[0]["annotator"] == pseudonym("s" * 40, u1.id) != str(u1.id)
    text = "".join(iter_lines(db, project, ExportOptions(kind="raw", file_format="csv"), "k"))
    table = list(csv.DictReader(io.StringIO(text)))
    assert len(table) == 8 and table[0]["chose_side_shown"] == "right"


def test_download_streams_with_server_name(client, logged_in, project, seeded) -> None:
    _, csrf = logged_in("admin")
    r = client.get(f"/admin/export/download?project={project.id}&format=raw&file_format=csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    disposition = r.headers["content-disposition"]
    assert disposition.startswith(f'attachment; filename="pairwise-project{project.id}-raw-')
    assert disposition.endswith('.csv"') and r.text.count("\n") == 9
    r = client.get("/api/v1/export?format=trl")
    assert r.status_code == 200 and len(r.text.splitlines()) == 2


def test_evaluator_cannot_export(client, logged_in) -> None:
    logged_in("evaluator")
    assert client.get("/api/v1/export?format=raw").status_code == 403
    assert client.get("/admin/export/download", follow_redirects=False).status_code == 403


def test_export_loads_with_datasets_and_trains_a_reward_step(
    db, project, make_user, backend, tmp_path: Path, tiny_reward_dir: Path
) -> None:
    if backend != "sqlite":
        pytest.skip("the training step does not depend on the database")
    import datasets
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    torch.set_num_threads(1)
    users = [make_user("evaluator") for _ in range(2)]
    for i in range(5):
        pr = f.make_pair(
            db,
            project,
            prompt=f.make_prompt(db, project, f"Question {i}?"),
            text_a=f"good {i}",
            text_b="bad",
        )
        for user in users:
            f.compare(db, pr, user, "a", left="a" if i % 2 else "b")
    out = tmp_path / "prefs.jsonl"
    out.write_text(
        "".join(iter_lines(db, project, ExportOptions(kind="trl", aggregate=False), "k"))
    )
    ds = datasets.load_dataset("json", data_files=str(out), split="train")
    assert ds.column_names == ["prompt", "chosen", "rejected"] and len(ds) == 10
    assert ds[0] == {"prompt": "Question 0?", "chosen": "good 0", "rejected": "bad"}
    model = AutoModelForSequenceClassification.from_pretrained(tiny_reward_dir, num_labels=1)
    tok = AutoTokenizer.from_pretrained(tiny_reward_dir)
    tok.eos_token = tok.eos_token or tok.sep_token  # BERT tokenizers have no EOS
    before = [p.detach().clone() for p in model.parameters()]
    args = RewardConfig(
        output_dir=str(tmp_path / "rm"),
        max_steps=1,
        per_device_train_batch_size=2,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        max_length=64,
    )
    trainer = RewardTrainer(model=model, args=args, train_dataset=ds, processing_class=tok)
    trainer.train()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_parquet_download_and_cli(
    client, logged_in, project, seeded, tmp_path: Path, monkeypatch
) -> None:
    import pyarrow.parquet as pq

    logged_in("admin")
    r = client.get(f"/api/v1/export?project={project.id}&format=trl&file_format=parquet")
    assert r.status_code == 200 and r.headers["content-disposition"].endswith('.parquet"')
    table = pq.read_table(io.BytesIO(r.content))
    assert table.num_rows == 2 and table.column_names == ["prompt", "chosen", "rejected"]
    assert table.to_pylist()[1]["chosen"] == [{"role": "assistant", "content": "hi!"}]
    r = client.get(
        f"/api/v1/export?project={project.id}&format=raw&file_format=parquet&pseudonymise=true"
    )
    raw = pq.read_table(io.BytesIO(r.content)).to_pylist()
    assert len(raw) == 8 and all(row["annotator"].startswith("ann_") for row in raw)
    r = client.get(
        f"/api/v1/export?project={project.id}&format=raw&file_format=parquet&since=2030-01-01"
    )
    empty = pq.read_table(io.BytesIO(r.content))
    assert empty.num_rows == 0 and empty.column_names == RAW_FIELDS


def test_raw_parquet_keeps_margins_that_appear_after_the_first_batch(
    client, logged_in, db, project, seeded, monkeypatch
) -> None:
    """Early pairs have no reward margin (no reward model yet); later ones do."""
    import pyarrow.parquet as pq

    from app.export import parquet

    monkeypatch.setattr(parquet, "BATCH", 2)  # the first batch has only empty margins
    seeded["chat"].reward_margin = -0.75
    db.commit()
    logged_in("admin")
    r = client.get(f"/api/v1/export?project={project.id}&format=raw&file_format=parquet")
    assert r.status_code == 200, r.text
    table = pq.read_table(io.BytesIO(r.content))
    assert table.column_names == RAW_FIELDS
    margins = {row["pair_id"]: row["reward_margin"] for row in table.to_pylist()}
    assert margins[seeded["chat"].id] == -0.75 and margins[seeded["plain"].id] is None


def test_cli_export(tmp_path: Path, monkeypatch, capsys) -> None:
    from app.cli import main as cli_main
    from app.settings import get_settings

    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    try:
        assert cli_main(["db", "upgrade"]) == 0
        assert (
            cli_main(["users", "create", "root", "--role", "admin", "--password", "long enough pw"])
            == 0
        )
        out = tmp_path / "raw.csv"
        assert cli_main(["export", "--format", "raw", "--csv", "--out", str(out)]) == 0
        assert out.read_text().startswith("comparison_id,pair_id,")
        assert "wrote 0 row(s)" in capsys.readouterr().out
        assert (
            cli_main(
                ["export", "--format", "trl", "--parquet", "--out", str(tmp_path / "p.parquet")]
            )
            == 0
        )
        assert cli_main(["export", "--project", "nope", "--out", str(out)]) == 2
    finally:
        get_settings.cache_clear()


def test_page_form_with_empty_dates_and_bad_date(client, logged_in, project, seeded) -> None:
    logged_in("admin")
    form = (
        f"/admin/export/download?project={project.id}"
        "&format=raw&file_format=jsonl&since=&until=&tag="
    )
    r = client.get(form)
    assert r.status_code == 200 and len(r.text.splitlines()) == 8
    r = client.get("/api/v1/export?format=raw&since=01/02/2026")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "since"
    r = client.get("/api/v1/export?format=raw&since=2026-01-05&until=2026-01-05")
    assert len(r.text.splitlines()) == 2


def test_simulated_labels_stay_out_unless_asked(db, project, make_user) -> None:
    human, bot = make_user("evaluator"), make_user("evaluator")
    bot.simulated = True
    pr = f.make_pair(
        db, project, prompt=f.make_prompt(db, project, "Say hi."), text_a="hi", text_b="no"
    )
    f.compare(db, pr, human, "a")
    other = f.make_pair(
        db, project, prompt=f.make_prompt(db, project, "Say bye."), text_a="bye", text_b="x"
    )
    f.compare(db, other, bot, "a")
    db.commit()
    assert [r["chosen"] for r in lines(db, project, kind="trl")] == ["hi"]
    with_bots = lines(db, project, kind="trl", include_simulated=True)
    assert sorted(r["chosen"] for r in with_bots) == ["bye", "hi"]


def test_sft_as_parquet_is_refused_by_the_web_and_the_cli_in_the_same_words(
    client, logged_in, project, tmp_path: Path, monkeypatch, capsys
) -> None:
    from app.cli import main as cli_main
    from app.export.service import SFT_JSONL_ONLY
    from app.settings import get_settings

    logged_in("admin")
    r = client.get(f"/api/v1/export?project={project.id}&format=sft&file_format=parquet")
    assert r.status_code == 422
    assert r.json()["detail"] == SFT_JSONL_ONLY
    assert r.json()["errors"][0]["field"] == "file_format"
    page = client.get(f"/admin/export/download?project={project.id}&format=sft&file_format=parquet")
    assert page.status_code == 422 and "JSONL only" in page.text

    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    try:
        out = tmp_path / "sft.parquet"
        code = cli_main(["export", "--format", "sft", "--parquet", "--out", str(out)])
        assert code == 2 and not out.exists()
        assert capsys.readouterr().err.strip() == f"error: {SFT_JSONL_ONLY}"
    finally:
        get_settings.cache_clear()
