"""A Hugging Face dataset folder (`Dataset.save_to_disk`), loadable by `datasets.load_from_disk`.

The rows are the Parquet export's (TRL preference or raw), written to a temporary Parquet file
first, so memory stays at one batch; `datasets` then memory-maps it into the folder.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from app.export.parquet import write_parquet
from app.export.service import ExportOptions
from app.models import Project


def write_hf_dataset(
    db: Session,
    project: Project,
    opts: ExportOptions,
    secret: str,
    folder: Path,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Save the export as a dataset folder; returns the row count."""
    import datasets

    with tempfile.TemporaryDirectory(prefix="pairwise-hf-") as scratch:
        parquet = Path(scratch) / "rows.parquet"
        with parquet.open("wb") as out:
            rows = write_parquet(db, project, opts, secret, out, progress)
        if rows:
            cache = Path(scratch) / "cache"
            dataset = datasets.Dataset.from_parquet(str(parquet), cache_dir=str(cache))
        else:  # `from_parquet` refuses a file without rows; the columns still come out
            import pyarrow.parquet as pq

            dataset = datasets.Dataset(datasets.table.InMemoryTable(pq.read_table(parquet)))
        assert isinstance(dataset, datasets.Dataset)
        dataset.save_to_disk(str(folder))
    return rows
