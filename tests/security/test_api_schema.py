"""Schemathesis against /openapi.json, signed in with an API token of each role.

Every operation gets valid and invalid generated requests (bounded: a few examples each);
the server never answers 500 and every answer matches the schema it publishes (status
code documented, content type, body shape).
"""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.service import create_api_token
from app.models import PolicyVersion, TrainingRun
from app.models import Project as ProjectRow
from tests.factories import make_pairs

if os.environ.get("CI") == "true":
    import hypothesis
    import schemathesis
else:  # a checkout installed without the `test` extra
    schemathesis = pytest.importorskip("schemathesis")
    hypothesis = pytest.importorskip("hypothesis")

from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode  # noqa: E402

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 8


@pytest.fixture
def seeded(db: Session, project: ProjectRow) -> None:
    """Something for generated ids to hit: pairs, a queued run, a candidate version."""
    make_pairs(db, project, 3)
    db.add(TrainingRun(project_id=project.id, recipe="tiny", status="queued"))
    db.add(
        PolicyVersion(
            project_id=project.id, number=1, checkpoint_uri="v1", base_model="t", status="candidate"
        )
    )
    db.commit()


@pytest.mark.parametrize("role", ["evaluator", "admin", "ml"])
def test_api_conforms_to_its_schema_for_each_role(
    client: TestClient, db: Session, make_user, seeded: None, role: str
) -> None:
    user = make_user(role)
    secret, _ = create_api_token(db, user, "schemathesis")
    db.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            @hypothesis.settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(hypothesis.HealthCheck),
                phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            )
            @hypothesis.given(case=strategy)
            def run(case) -> None:  # type: ignore[no-untyped-def]
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                continue  # nothing invalid to send to an operation without parameters
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # noqa: BLE001 - failure groups; reported together below
                failures.append(f"{operation.label} [{mode}]: {str(exc)[:1500]}")
    assert operations >= 25
    assert failures == [], "\n\n".join(failures)
