"""A seeded random run of mixed operations; the invariants are checked after every step.

Operations: hold (one to three seats), cancel, pay, admit (one poll of the queue), the
clock moving on (holds and checkout windows run out), and the sweeper. Each answer is
checked against what the state before it allows, and the whole state after it: seats and
orders are read from Postgres every step; sessions are re-read from DynamoDB whenever an
operation may have changed them, and all of them every 50 steps.
"""

from __future__ import annotations

import random
from collections import Counter
from itertools import pairwise
from uuid import UUID

from boxoffice.models.checkouts import LIVE_STATUSES, Session
from boxoffice.services.expiry import sweep
from tests.support import consume_once, hold, on_checkout

OPERATIONS = 2_000
SEATS = [f"A-{row}-{n}" for row in (1, 2, 3) for n in range(1, 7)]


class World:
    """What the test knows: every checkout's token and its last-read session."""

    def __init__(self, deps, event_id: UUID) -> None:
        self.deps = deps
        self.event_id = event_id
        self.tokens: dict[str, str] = {}
        self.sessions: dict[UUID, Session] = {}

    def read(self, *checkout_ids: UUID) -> None:
        for checkout_id in checkout_ids:
            session = self.deps.sessions.get(checkout_id)
            assert session is not None
            self.sessions[checkout_id] = session

    def status(self, checkout_id: UUID) -> str:
        return self.sessions[checkout_id].status_at(self.deps.clock.now())

    def live(self) -> list[UUID]:
        return [c for c in self.sessions if self.status(c) in LIVE_STATUSES]

    def seats(self):
        with self.deps.connection() as conn:
            return conn.execute(
                "SELECT s.seat_id, s.status, s.checkout_id, s.held_until, o.checkout_id"
                " FROM seats s LEFT JOIN orders o ON o.checkout_id = s.checkout_id"
                " AND s.seat_id = ANY(o.seat_ids) WHERE s.event_id = %s",
                (self.event_id,),
            ).fetchall()

    def free(self) -> set[str]:
        now = self.deps.clock.now()
        return {
            seat
            for seat, status, _, until, _ in self.seats()
            if status == "available" or (status == "held" and until <= now)
        }

    def check(self) -> None:
        now = self.deps.clock.now()
        live_holds: dict[UUID, set[str]] = {}
        booked: dict[UUID, set[str]] = {}
        for seat, status, checkout, until, order in self.seats():
            if status == "booked":
                assert order == checkout, f"{seat} booked without its order"
                assert self.status(checkout) == "completed", seat
                booked.setdefault(checkout, set()).add(seat)
            elif status == "held" and until > now:
                assert self.status(checkout) in LIVE_STATUSES, f"{seat}: hold of an ended checkout"
                assert self.sessions[checkout].hold_until == until
                live_holds.setdefault(checkout, set()).add(seat)
        for checkout_id, session in self.sessions.items():
            status = self.status(checkout_id)
            mine = set(session.seat_ids)
            if status in LIVE_STATUSES:
                # a live checkout holds all its seats: no seat has a second live holder
                assert live_holds.get(checkout_id) == mine, checkout_id
            elif status == "completed":
                assert booked.get(checkout_id) == mine, checkout_id
            else:
                assert checkout_id not in live_holds
                assert checkout_id not in booked


def test_random_operations_keep_every_invariant(deps, make_event, aws, clock):
    rng = random.Random(20261125)
    worlds = [World(deps, make_event(seats=18, hold_seconds=20, checkout_seconds=10))]
    done = Counter[str]()
    for step in range(1, OPERATIONS + 1):
        world = worlds[-1]
        event_id = world.event_id
        if sum(1 for row in world.seats() if row[1] == "booked") > 12:  # nearly sold out
            world = World(deps, make_event(seats=18, hold_seconds=20, checkout_seconds=10))
            worlds.append(world)
            event_id = world.event_id
        op = rng.choices(
            ["hold", "cancel", "pay", "admit", "tick", "sweep"], [30, 8, 16, 20, 22, 4]
        )[0]
        if op == "hold":
            wanted = rng.sample(SEATS, rng.randint(1, 3))
            free = world.free()
            status, body = hold(event_id, wanted)
            if set(wanted) <= free:
                assert status == 201, body
                world.tokens[body["checkout_id"]] = body["token"]
                world.read(UUID(body["checkout_id"]))
            else:
                assert (status, body["error"]) == (409, "seats_unavailable")
                assert body["seat_ids"] == sorted(set(wanted) - free)
            op = f"hold:{status}"
        elif op in ("cancel", "pay") and world.sessions:
            live = world.live()
            pool = live if live and rng.random() < 0.85 else list(world.sessions)
            checkout_id = rng.choice(pool)
            before = world.status(checkout_id)
            name = "cancel_checkout" if op == "cancel" else "complete_checkout"
            status, body = on_checkout(name, str(checkout_id), world.tokens[str(checkout_id)])
            if op == "pay":
                expected = {
                    "admitted": (200, "completed"),
                    "completed": (200, "completed"),
                    "queued": (409, "not_admitted"),
                }.get(before, (409, "checkout_expired"))
                assert (status, body.get("status") or body.get("error")) == expected
            else:
                assert status == (409 if before == "completed" else 200), (before, body)
            world.read(checkout_id)
            op = f"{op}:{status}"
        elif op == "admit":
            consume_once(aws.queue_url)
            world.read(*[c for c, s in world.sessions.items() if s.status == "queued"])
        elif op == "tick":
            clock.advance(rng.choice([0.5, 1, 2, 4, 8]))
        elif op == "sweep":
            sweep(deps)
        done[op] += 1
        if step % 50 == 0:
            cached = {c: world.status(c) for c in world.sessions}
            world.read(*world.sessions)
            assert {c: world.status(c) for c in world.sessions} == cached
        world.check()
    admitted = 0
    for each in worlds:
        times = sorted(s.admitted_at for s in each.sessions.values() if s.admitted_at)
        admitted += len(times)
        # never faster than the event's 1 admission per second
        assert all((b - a).total_seconds() >= 1 for a, b in pairwise(times))
    checkouts = sum(len(each.sessions) for each in worlds)
    print(f"{OPERATIONS} operations, invariants checked after each: {dict(sorted(done.items()))}")
    print(f"{len(worlds)} events, {checkouts} checkouts, {admitted} admitted")
    assert done["hold:201"] > 100, done
    assert done["pay:200"] > 30
    assert done["cancel:200"] > 10
