"""A Postgres restart under labelling load: clear, quick errors meanwhile; recovery by itself."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from tests.faults.load import Load, assert_stored_exactly_once, seed_labelling
from tests.faults.pgcluster import PrivateCluster, free_port
from tests.faults.procs import Procs, base_env, serve, wait_for

pytestmark = pytest.mark.faults

CLIENTS = 50
LABELS_EACH = 6
CLIENT_TIMEOUT = 10.0
OUTAGE_SECONDS = 3.0


def test_web_server_rides_out_a_postgres_restart(
    pg_cluster: PrivateCluster, fault_db: tuple[str, Engine], procs: Procs, tmp_path: Path
) -> None:
    url, engine = fault_db
    project_id, people = seed_labelling(engine, CLIENTS, pairs=CLIENTS * LABELS_EACH + 20)
    server, base_url = serve(procs, "web", base_env(tmp_path, url), free_port())

    options = {"labels_each": LABELS_EACH, "seconds": 150, "timeout": CLIENT_TIMEOUT}
    with Load(base_url, project_id, people, **options) as load:
        ledger = load.ledger
        assert wait_for(lambda: len(ledger.acked) >= CLIENTS * LABELS_EACH // 4, 60), (
            f"the load never got going: {ledger.unexpected[:3]}\n{server.output()[-2000:]}"
        )
        down_at = time.monotonic()
        pg_cluster.stop("fast")  # ends every connection of the web server
        time.sleep(OUTAGE_SECONDS)
        answered_meanwhile = httpx.get(f"{base_url}/healthz", timeout=5)
        pg_cluster.start()
        up_at = time.monotonic()
        assert load.finished(within=170), "the clients never finished"

    assert server.alive(), "the web server died with the database"
    assert answered_meanwhile.status_code == 503
    assert answered_meanwhile.json()["database"] == "unreachable"
    # Meanwhile clients got answers, quickly: errors that say what is wrong, never a hang.
    during = ledger.failures(since=down_at - 1)
    assert during, "no request met the outage"
    assert all(o.status is not None for o in during), [o for o in during if o.status is None][:3]
    assert all(o.seconds < CLIENT_TIMEOUT * 0.8 for o in ledger.outcomes)
    assert {o.status for o in during} == {503}, {(o.status, o.body[:80]) for o in during}
    assert all("database" in o.body.lower() for o in during), during[0].body
    # Recovered by itself: once Postgres is back, requests succeed again.
    after = ledger.failures(since=up_at + 2.0)
    assert not after, after[:3]
    assert httpx.get(f"{base_url}/healthz", timeout=5).status_code == 200

    assert not ledger.unexpected, ledger.unexpected[:5]
    assert set(ledger.sent) == set(ledger.acked) and len(ledger.acked) == CLIENTS * LABELS_EACH
    assert_stored_exactly_once(engine, project_id, ledger)
