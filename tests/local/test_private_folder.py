"""`make dev` as root from a clone inside a private folder (mode 700, like /root): the
`postgres` user cannot enter it, so the cluster is kept in that user's home instead."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from local.postgres import PostgresCluster, reachable_data_dir

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="only root runs Postgres as another user")


def test_a_cluster_in_a_private_folder_starts_elsewhere_and_works():
    with tempfile.TemporaryDirectory(prefix="boxoffice-private-") as private:
        os.chmod(private, 0o700)
        wanted = Path(private) / "clone" / ".local" / "pgdata"
        cluster = PostgresCluster(wanted, fsync=False)
        try:
            assert cluster.data_dir != wanted
            assert cluster.data_dir == reachable_data_dir(wanted)  # the same place every run
            assert cluster.data_dir.name == "pgdata"
            cluster.start()
            with psycopg.connect(cluster.url(), connect_timeout=5) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        finally:
            cluster.stop()
            shutil.rmtree(cluster.data_dir.parent, ignore_errors=True)


def test_a_reachable_folder_is_kept():
    with tempfile.TemporaryDirectory(prefix="boxoffice-open-") as folder:
        os.chmod(folder, 0o755)  # noqa: S103 - the postgres user must reach it
        assert reachable_data_dir(Path(folder) / "pgdata") == Path(folder) / "pgdata"
