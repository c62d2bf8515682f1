"""kill -9 of the web server while 50 evaluators submit: nothing acknowledged is lost or doubled."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.faults.load import Load, assert_stored_exactly_once, seed_labelling
from tests.faults.pgcluster import free_port
from tests.faults.procs import Procs, base_env, serve, wait_for

pytestmark = pytest.mark.faults

CLIENTS = 50
LABELS_EACH = 6


def test_kill_9_of_the_web_server_loses_and_doubles_nothing(
    fault_db: tuple[str, Engine], procs: Procs, tmp_path: Path
) -> None:
    url, engine = fault_db
    project_id, people = seed_labelling(engine, CLIENTS, pairs=CLIENTS * LABELS_EACH + 20)
    env = base_env(tmp_path, url)
    port = free_port()
    first, base_url = serve(procs, "web-1", env, port)

    with Load(base_url, project_id, people, labels_each=LABELS_EACH, seconds=150) as load:
        ledger = load.ledger
        # Kill the server once a third of the labels are in: requests are in flight everywhere.
        assert wait_for(lambda: len(ledger.acked) >= CLIENTS * LABELS_EACH // 3, 60), (
            f"the load never got going: {ledger.unexpected[:3]}\n{first.output()[-2000:]}"
        )
        first.kill9()
        acked_before_restart = len(ledger.acked)
        time.sleep(1.0)  # clients meet a dead port for a while
        serve(procs, "web-2", env, port)
        assert load.finished(within=170), "the clients never finished"

    assert not ledger.unexpected, ledger.unexpected[:5]
    assert set(ledger.sent) == set(ledger.acked), "a submission was never acknowledged"
    assert len(ledger.acked) == CLIENTS * LABELS_EACH
    # The kill really hit the load: clients met refused or cut connections and sent again;
    # neither server ever answered with an error of its own.
    cut = ledger.failures()
    assert cut and all(o.status is None for o in cut), cut[:5]
    assert ledger.resent > 0 and acked_before_restart < CLIENTS * LABELS_EACH
    assert_stored_exactly_once(engine, project_id, ledger)
