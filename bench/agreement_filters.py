"""The data browser's agreement filters, two ways in one run, on a seeded database.

`agreement_condition` (app/pairs/service.py) is a correlated EXISTS evaluated pair by pair
in the page's order; the baseline is the form it replaced, `Pair.id IN (the project's split /
unanimous / majority pair ids)`, which groups every vote of the project first. Both fetch
the same first page (50 newest pairs, no other filter) through the same joins; the rows
must agree. Run on the database `bench/admin.py` seeded (it is left seeded):

    PYTHONPATH=$PWD .venv/bin/python bench/agreement_filters.py \\
        --database-url postgresql://postgres@127.0.0.1:5432/pw_data_bench [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import and_, func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app.db import make_engine  # noqa: E402
from app.models import Comparison, Pair  # noqa: E402
from app.pairs.service import (  # noqa: E402
    RULES,
    _per_pair,
    agreement_condition,
    decided,
    pair_rows,
)
from app.vocabulary import Agreement  # noqa: E402

PAGE = 50


def baseline(project_id: int, agreement: Agreement) -> Any:
    return and_(Pair.id.in_(_per_pair(project_id).having(RULES[agreement]())), ~decided())


def page(db: Session, project_id: int, condition: Any) -> list[int]:
    stmt = pair_rows().where(Pair.project_id == project_id, condition)
    return [row[0].id for row in db.execute(stmt.order_by(Pair.id.desc()).limit(PAGE + 1))]


def timed(
    db: Session, project_id: int, condition: Any, repeat: int
) -> tuple[list[float], list[int]]:
    times, ids = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        ids = page(db, project_id, condition)
        times.append((time.perf_counter() - started) * 1000)
        db.rollback()
    return times, ids


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    engine = make_engine(args.database_url)
    with Session(engine) as db:
        project_id, votes = db.execute(
            select(Comparison.project_id, func.count())
            .group_by(Comparison.project_id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
        print(f"project {project_id}: {votes:,} comparisons; {PAGE} newest pairs per request")
        print()
        print(
            "| filter | IN (all pair ids) median / p95 ms "
            "| EXISTS per pair median / p95 ms | ratio of medians |"
        )
        print("| --- | --- | --- | --- |")
        for agreement in (Agreement.even_split, Agreement.unanimous, Agreement.majority):
            old, old_ids = timed(db, project_id, baseline(project_id, agreement), args.repeat)
            new, new_ids = timed(db, project_id, agreement_condition(agreement), args.repeat)
            if old_ids != new_ids:
                raise SystemExit(f"{agreement}: the two forms found different pairs")
            ratio = statistics.median(old) / statistics.median(new)
            print(
                f"| {agreement.value} | {statistics.median(old):.1f} / {p95(old):.1f} "
                f"| {statistics.median(new):.1f} / {p95(new):.1f} | {ratio:.1f}× |"
            )


if __name__ == "__main__":
    main()
