"""Parquet output: rows written in batches to a temporary file, then streamed out."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.orm import Session, sessionmaker

from app.export.service import ExportOptions, iter_records
from app.models import Project

BATCH = 2000
CHUNK = 1 << 20

# Raw rows have columns that are empty in early rows (no reward model yet, no decision time):
# a schema inferred from the first batch would make them null-typed and refuse later values.
RAW_SCHEMA = pa.schema(
    [
        ("comparison_id", pa.int64()),
        ("pair_id", pa.int64()),
        ("prompt_id", pa.int64()),
        ("annotator", pa.string()),
        ("choice", pa.string()),
        ("left_side", pa.string()),
        ("chose_side_shown", pa.string()),
        ("strength", pa.string()),
        ("flags", pa.list_(pa.string())),
        ("rationale", pa.string()),
        ("decision_ms", pa.int64()),
        ("pair_kind", pa.string()),
        ("is_gold", pa.bool_()),
        ("policy_version_a", pa.int64()),
        ("policy_version_b", pa.int64()),
        ("reward_margin", pa.float64()),
        ("guidelines_version", pa.int64()),
        ("created_at", pa.string()),
        ("prompt_external_id", pa.string()),
        ("prompt_meta", pa.string()),  # JSON text: each prompt's keys differ
        ("source", pa.string()),
        ("import_batch", pa.int64()),
        ("import_source", pa.string()),
        ("import_line", pa.int64()),
    ]
)


def write_parquet(
    db: Session,
    project: Project,
    opts: ExportOptions,
    secret: str,
    out: Any,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the export as Parquet to a binary file object; returns the row count."""
    records = iter_records(db, project, opts, secret)
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = RAW_SCHEMA if opts.kind == "raw" else None
    rows = 0
    while batch := list(islice(records, BATCH)):
        if opts.kind == "raw":
            # Mixed int/str annotator ids (pseudonymised or not) stay one type per file;
            # imported rows have none.
            for r in batch:
                r["annotator"] = None if r["annotator"] is None else str(r["annotator"])
                r["prompt_meta"] = json.dumps(r["prompt_meta"], ensure_ascii=False)
        table = pa.Table.from_pylist(batch, schema=schema)
        if writer is None:
            schema = table.schema
            writer = pq.ParquetWriter(out, schema)
        writer.write_table(table)
        rows += len(batch)
        if progress is not None:
            progress(len(batch))
    if writer is None:
        if opts.kind == "raw":
            pq.write_table(RAW_SCHEMA.empty_table(), out)
        else:
            names = ["prompt", "chosen", "rejected"]
            pq.write_table(pa.table({n: pa.array([], pa.string()) for n in names}), out)
    else:
        writer.close()
    return rows


def stream_parquet(
    factory: sessionmaker[Session], project_id: int, opts: ExportOptions, secret: str
) -> Iterator[bytes]:
    """For a streamed response: memory stays at one batch; the file lives on disk."""
    with tempfile.TemporaryFile() as tmp, factory() as db:
        project = db.get(Project, project_id)
        if project is None:
            return
        write_parquet(db, project, opts, secret, tmp)
        tmp.seek(0)
        while chunk := tmp.read(CHUNK):
            yield chunk
