"""A real Postgres cluster on loopback, started from the machine's binaries.

Used by the test suite (throwaway, fsync off) and by the local stack (kept in a
git-ignored folder). Postgres refuses to run as root, so when we are root the
cluster belongs to the `postgres` user and its commands run through `runuser`.
That user must be able to reach the cluster's folder: a clone inside a private folder
(mode 700, like /root) is out of its reach, so there the cluster is kept in the
`postgres` user's home instead (see `reachable_data_dir`).
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

SUPERUSER = "postgres"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if not candidates:
        raise RuntimeError(f"Postgres binary {name!r} not found on PATH or in /usr/lib/postgresql")
    return candidates[0]


def _run_as_owner() -> list[str]:
    """The prefix that runs a command as the cluster's owner."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", SUPERUSER, "--"]


def _chown_to_owner(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(SUPERUSER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _owner_reaches(folder: Path) -> bool:
    """Whether the cluster's owner can enter `folder` (every folder above it included)."""
    if os.geteuid() != 0:
        return True
    probe = subprocess.run(
        [*_run_as_owner(), "test", "-x", str(folder)], check=False, capture_output=True
    )
    return probe.returncode == 0


def reachable_data_dir(wanted: Path) -> Path:
    """`wanted`, or (as root, when the `postgres` user cannot reach it) a folder of its own
    in that user's home, one per `wanted` path so that two clones never share a cluster."""
    wanted = wanted.absolute()
    parent = wanted.parent
    parent.mkdir(parents=True, exist_ok=True)
    if _owner_reaches(parent):
        return wanted
    tag = hashlib.sha256(str(wanted).encode()).hexdigest()[:10]
    home = Path(pwd.getpwnam(SUPERUSER).pw_dir)
    return home / "boxoffice" / f"{parent.parent.name or 'root'}-{tag}" / wanted.name


@dataclass
class PostgresCluster:
    data_dir: Path
    port: int = field(default_factory=free_port)
    fsync: bool = True
    max_connections: int = 300
    # Where the server listens; the local stack's --services-only mode may widen this so
    # that Docker containers (sam local) reach it.
    listen_addresses: str = "127.0.0.1"

    def __post_init__(self) -> None:
        self.data_dir = reachable_data_dir(self.data_dir)

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        if self.initialised():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _chown_to_owner(self.data_dir)
        done = subprocess.run(
            [
                *_run_as_owner(),
                _binary("initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ],
            check=False,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:  # initdb writes no log file: say what it said
            said = (done.stderr or done.stdout).strip().splitlines()
            raise RuntimeError(
                f"initdb failed in {self.data_dir}: {' / '.join(said[-3:]) or done.returncode}"
            )

    def start(self) -> None:
        self.init()
        self.log_file.touch()
        _chown_to_owner(self.log_file)
        options = (
            f"-p {self.port} -c listen_addresses='{self.listen_addresses}'"
            " -c unix_socket_directories='' "
            f"-c max_connections={self.max_connections} -c fsync={'on' if self.fsync else 'off'} "
            f"-c synchronous_commit={'on' if self.fsync else 'off'} "
            f"-c full_page_writes={'on' if self.fsync else 'off'}"
        )
        subprocess.run(
            [
                *_run_as_owner(),
                _binary("pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            check=True,
            capture_output=True,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def running(self) -> bool:
        """Whether a server runs on this data directory (perhaps left by a killed run)."""
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        status = subprocess.run(
            [*_run_as_owner(), _binary("pg_ctl"), "-D", str(self.data_dir), "status"],
            check=False,
            capture_output=True,
        )
        return status.returncode == 0

    def allow_hosts(self, address: str) -> None:
        """Trust connections from `address` (a pg_hba address: CIDR, `samenet`...)."""
        hba = self.data_dir / "pg_hba.conf"
        line = f"host all all {address} trust"
        text = hba.read_text(encoding="utf-8")
        if line not in text.splitlines():
            hba.write_text(text.rstrip("\n") + "\n" + line + "\n", encoding="utf-8")

    def stop(self) -> None:
        if not (self.data_dir / "postmaster.pid").exists():
            return
        subprocess.run(
            [*_run_as_owner(), _binary("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "stop"],
            check=False,
            capture_output=True,
        )

    def ensure_database(self, dbname: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        return self.url(dbname)


@contextmanager
def throwaway_database(dbname: str) -> Iterator[str]:
    """A cluster in a temporary folder (fsync off) with one empty database; gone afterwards."""
    with tempfile.TemporaryDirectory(prefix="boxoffice-pg-") as folder:
        os.chmod(folder, 0o755)  # noqa: S103 - the postgres user must reach its data dir
        cluster = PostgresCluster(Path(folder) / "data", fsync=False)
        cluster.start()
        try:
            yield cluster.ensure_database(dbname)
        finally:
            cluster.stop()
