"""The worker pools: each function's instances are processes that keep their module warm,
get a Lambda context, scale to the concurrency cap, are killed when an invocation runs past
the timeout, and are recycled after a code change."""

from __future__ import annotations

import threading
import time

from local.lambdas import FunctionPool, Invocation
from local.template import Function
from tests.local.stack import processes_tagged


def _pool(capacity: int = 2, timeout: int = 3) -> FunctionPool:
    function = Function(
        logical_id="CountingFunction",
        code_uri="tests/local/",
        handler="pool_handlers.counting_handler",
        timeout=timeout,
        environment={},
        memory_size=256,
    )
    env = {"PATH": "/usr/bin:/bin", "GREETING": "hello"}
    return FunctionPool(function, env, capacity, tag="boxoffice-test-pool")


def test_worker_keeps_module_state_and_gets_a_lambda_context():
    pool = _pool()
    try:
        first = pool.invoke({"env": ["GREETING", "DATABASE_URL"]})
        second = pool.invoke({})
        assert first.ok, first.error
        assert first.result["function"] == "CountingFunction"
        assert first.result["env"] == {"GREETING": "hello", "DATABASE_URL": None}
        assert 0 < first.result["remaining_ms"] <= 3000
        assert first.result["request_id"] == first.request_id
        # one warm instance, its module imported once
        assert second.result["pid"] == first.result["pid"]
        assert second.result["calls"] == first.result["calls"] + 1
        failed = pool.invoke({"fail": True})
        assert (failed.ok, failed.error_type, failed.error_message) == (
            False,
            "ValueError",
            "asked to fail",
        )
        # an exception does not cost the instance
        assert pool.invoke({}).result["pid"] == first.result["pid"]
    finally:
        pool.close()


def test_instances_scale_to_the_cap_and_callers_wait():
    pool = _pool(capacity=2)
    results: list[Invocation] = []
    lock = threading.Lock()

    def call() -> None:
        invocation = pool.invoke({"sleep": 0.4})
        with lock:
            results.append(invocation)

    try:
        threads = [threading.Thread(target=call) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(r.ok for r in results)
        assert len({r.result["pid"] for r in results}) == 2
        assert pool.size == 2
    finally:
        pool.close()
    assert pool.size == 0


def test_a_hung_invocation_is_killed_and_its_instance_replaced():
    pool = _pool(capacity=1, timeout=1)
    try:
        warm = pool.invoke({})
        hung = pool.invoke({"sleep": 30})
        assert hung.timed_out
        assert not hung.ok
        assert hung.error_message == "Task timed out after 1.00 seconds"
        assert hung.duration_ms < 5000
        fresh = pool.invoke({})
        assert fresh.ok
        assert fresh.result["pid"] != warm.result["pid"]
        assert fresh.result["calls"] == 1  # a new instance: a cold module
    finally:
        pool.close()


def test_recycling_gives_fresh_instances_after_a_code_change():
    pool = _pool(capacity=2)
    try:
        old = pool.invoke({}).result
        busy = threading.Thread(target=pool.invoke, args=({"sleep": 0.6},))
        busy.start()
        time.sleep(0.3)  # the old instance is now busy with it
        pool.recycle()
        busy.join()
        new = pool.invoke({}).result
        assert new["pid"] != old["pid"]
        assert new["calls"] == 1
        assert pool.size == 1  # the busy old instance went when it finished
    finally:
        pool.close()


def test_a_module_that_cannot_be_imported_is_an_init_error():
    function = Function("Broken", "tests/local/", "no_such_module.handler", 3, {})
    pool = FunctionPool(function, {"PATH": "/usr/bin:/bin"}, 1, tag="boxoffice-test-pool")
    try:
        invocation = pool.invoke({})
        assert not invocation.ok
        assert invocation.error_type == "Runtime.ImportModuleError"
        assert pool.size == 0
    finally:
        pool.close()


def test_closing_ends_an_instance_still_starting_before_it_returns():
    tag = f"boxoffice-test-starting-{time.monotonic_ns()}"
    function = Function("Slow", "tests/local/", "pool_slow_import.handler", 3, {})
    pool = FunctionPool(function, {"PATH": "/usr/bin:/bin"}, 1, tag=tag)
    outcome: list[Invocation] = []
    caller = threading.Thread(target=lambda: outcome.append(pool.invoke({})))
    caller.start()
    deadline = time.monotonic() + 10
    while not processes_tagged(tag):  # its process is up, importing for 5 s
        assert time.monotonic() < deadline, "the instance never started"
        time.sleep(0.02)
    began = time.monotonic()
    pool.close()
    closed_in = time.monotonic() - began
    assert processes_tagged(tag) == [], "an instance outlived the closed pool"
    assert closed_in < 4, f"close waited {closed_in:.1f} s for the import instead of ending it"
    caller.join(5)
    assert len(outcome) == 1
    assert not outcome[0].ok, "the caller was not told the pool closed"
    assert pool.size == 0
