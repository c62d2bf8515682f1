"""Fixtures of the fault suite: a private Postgres cluster, fresh databases, reaped processes."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.db import make_engine
from app.migrate import upgrade
from tests.faults.pgcluster import ClusterUnavailable, PrivateCluster
from tests.faults.procs import Procs

_databases = itertools.count(1)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PrivateCluster]:
    """A Postgres cluster of our own, so that tests may stop and restart it."""
    # Not under pytest's temp folder: that one is private to us, and the server may run
    # as another user.
    root = Path(tempfile.mkdtemp(prefix="pairwise-pg-"))
    try:
        cluster = PrivateCluster(root)
        cluster.init()
        cluster.start()
    except (ClusterUnavailable, RuntimeError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but no private Postgres cluster could be started: {exc}")
        pytest.skip(f"no private Postgres cluster: {exc}")
    try:
        yield cluster
    finally:
        if cluster.running():
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fault_db(pg_cluster: PrivateCluster) -> Iterator[tuple[str, Engine]]:
    """A freshly migrated database in the private cluster: its URL and an engine on it."""
    if not pg_cluster.running():  # a test that stopped the server and failed before restarting
        pg_cluster.start()
    url = pg_cluster.create_database(f"faults_{next(_databases)}")
    engine = make_engine(url, pool_size=5, max_overflow=5)
    upgrade(engine)
    try:
        yield url, engine
    finally:
        engine.dispose()


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    """Start `pairwise` subprocesses with `procs.start(...)`; all are killed at the end."""
    spawner = Procs(tmp_path)
    try:
        yield spawner
    finally:
        spawner.cleanup()
