"""Parquet output: rows written in batches to a temporary file, then streamed out."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from itertools import islice
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.orm import Session, sessionmaker

from app.export.service import RAW_FIELDS, ExportOptions, iter_records
from app.models import Project

BATCH = 2000
CHUNK = 1 << 20


def write_parquet(db: Session, project: Project, opts: ExportOptions, secret: str, out: Any) -> int:
    """Write the export as Parquet to a binary file object; returns the row count."""
    records = iter_records(db, project, opts, secret)
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    rows = 0
    while batch := list(islice(records, BATCH)):
        if opts.kind == "raw":
            # Mixed int/str annotator ids (pseudonymised or not) stay one type per file.
            for r in batch:
                r["annotator"] = str(r["annotator"])
        table = pa.Table.from_pylist(batch, schema=schema)
        if writer is None:
            schema = table.schema
            writer = pq.ParquetWriter(out, schema)
        writer.write_table(table)
        rows += len(batch)
    if writer is None:
        names = RAW_FIELDS if opts.kind == "raw" else ["prompt", "chosen", "rejected"]
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
