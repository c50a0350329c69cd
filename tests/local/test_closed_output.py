"""`make dev | head`: the stack outlives the reader of its output, and stops cleanly after.

Its output is only a console; once the pipe it writes to is closed, the stack and its
functions go on serving, and Ctrl-C still stops every part, its Postgres included.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from local import template
from local.postgres import free_port
from tests.local.stack import ADMIN, http, stack_env
from tests.support import load_event


def test_the_stack_serves_and_stops_cleanly_after_its_output_is_closed():
    folder = Path(tempfile.mkdtemp(prefix="boxoffice-stack-"))
    os.chmod(folder, 0o755)  # noqa: S103 - the postgres user must reach its data dir
    env = stack_env(
        BOXOFFICE_DATA_DIR=str(folder / "data"),
        PGPORT_LOCAL=str(free_port()),
        SEED_DEMO="0",
        LAMBDA_PREWARM="0",
    )
    base = f"http://127.0.0.1:{env['PORT']}"
    errors = folder / "stderr.txt"
    with errors.open("w") as stderr:
        stack = subprocess.Popen(
            [sys.executable, "-m", "local"],
            cwd=template.ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            text=True,
        )
    try:
        assert stack.stdout is not None
        for line in stack.stdout:
            if "ready on" in line:
                break
        stack.stdout.close()  # as `head` does once it has its lines
        body = load_event("create_event")["body"].encode()
        created = http(base, "POST", "/events", raw=body, headers=ADMIN)
        assert created.status == 201, created.body
        seats = [s["seat_id"] for s in created.body["sections"][0]["rows"][0]["seats"]]
        for seat in seats[:3]:  # each answer is a console line written to nobody
            held = http(
                base, "POST", f"/events/{created.body['id']}/checkouts", {"seat_ids": [seat]}
            )
            assert held.status == 201, held.body
        assert stack.poll() is None, errors.read_text()
    finally:
        if stack.poll() is None:
            stack.send_signal(signal.SIGINT)
        code = stack.wait(60)
        said = errors.read_text()
        pid_file = folder / "data" / "pgdata" / "postmaster.pid"
        postgres_left = pid_file.exists()
        if postgres_left:
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)
            time.sleep(2)
        shutil.rmtree(folder, ignore_errors=True)
    assert code == 0, said
    assert "Traceback" not in said, said
    assert not postgres_left, "the stack left its Postgres running"
