"""`make bench`: every figure of the performance issue, in one run, as ratios to anchors.

1. holds: `SeatStore.hold` against pgbench running the same statements (c=1 and c=8,
   prepared), on a 100-seat and a 100,000-seat event, with Postgres CPU per hold;
2. the create-checkout handler in process (moto in process) against `SeatStore.hold`,
   and the cost of the seat map, the event detail and a best-available block;
3. the local stack over HTTP against the handler in process, a storm of fans on one seat;
4. admission pacing through the local stack (bench/admission.py);
5. each function's cold import time, layer with and without bytecode (bench/imports.py).

It starts a throwaway Postgres (`BENCH_DATABASE_URL` to use yours). BENCH_PARTS picks parts
(e.g. `holds,handler`); BENCH_SECONDS, BENCH_ROUNDS, BENCH_HTTP_SECONDS set the lengths.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool

from bench import admission, handler, holds, imports, stack_http
from bench.measure import postmaster_pid
from boxoffice.stores.migrate import migrate
from local.postgres import throwaway_database

PARTS = set(os.environ.get("BENCH_PARTS", "holds,handler,http,admission,imports").split(","))


@contextmanager
def database() -> Iterator[str]:
    given = os.environ.get("BENCH_DATABASE_URL")
    if given:
        yield given
        return
    with throwaway_database("bench") as url:
        yield url


def main() -> None:
    began = time.monotonic()
    with database() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn)
        postmaster = postmaster_pid(url)
        anchors = {
            "store_ms": float("nan"),
            "capped_ms": float("nan"),
            "store_cpu_ms": float("nan"),
        }
        handler_rate: float | None = None
        with ConnectionPool(url, min_size=8, max_size=8, kwargs={"autocommit": True}) as pool:
            if "holds" in PARTS:
                anchors = holds.report(holds.run_all(url, pool, postmaster))
            if "handler" in PARTS:
                handler_rate = handler.run(url, pool, postmaster, anchors["capped_ms"])
        if "http" in PARTS:
            stack_http.run(url, postmaster, handler_rate)
    if "admission" in PARTS:
        admission.main()
    if "imports" in PARTS:
        imports.main()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nbench took {time.monotonic() - began:.0f} s; peak RSS of this process {rss:.0f} MiB")


if __name__ == "__main__":
    main()
