"""`python -m local` from an empty data folder: it creates the Postgres cluster and seeds
the demo; the data survives a restart and the demo is not seeded twice."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from local.postgres import free_port
from tests.local.stack import StackProcess, stack_env


def test_first_start_from_an_empty_data_dir_creates_the_cluster_and_the_demo():
    folder = Path(tempfile.mkdtemp(prefix="boxoffice-stack-"))
    os.chmod(folder, 0o755)  # noqa: S103 - the postgres user must reach its data dir
    env = stack_env(
        BOXOFFICE_DATA_DIR=str(folder / "data"), PGPORT_LOCAL=str(free_port()), LAMBDA_PREWARM="0"
    )
    try:
        first = StackProcess(env)
        try:
            first.start(timeout=120)
            assert "Creating the Postgres cluster" in first.output
            events = first.request("GET", "/events").body
            assert [e["name"] for e in events] == ["Demo Night"]
        finally:
            assert first.stop() == 0, first.output
        assert not (folder / "data" / "pgdata" / "postmaster.pid").exists()
        # the data survives a restart, and the demo is not seeded twice
        again = StackProcess(
            stack_env(
                **{k: env[k] for k in ("BOXOFFICE_DATA_DIR", "PGPORT_LOCAL", "LAMBDA_PREWARM")}
            )
        )
        try:
            again.start(timeout=60)
            assert "Creating the Postgres cluster" not in again.output
            assert [e["id"] for e in again.request("GET", "/events").body] == [
                e["id"] for e in events
            ]
        finally:
            assert again.stop() == 0, again.output
    finally:
        shutil.rmtree(folder, ignore_errors=True)
