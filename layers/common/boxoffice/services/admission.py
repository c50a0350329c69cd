"""Metered admission: the SQS FIFO consumer schedules each checkout's entry into checkout.

Design (README, "Admission"): every event has one pacing row in Postgres. For each message,
in arrival order, the consumer takes the event's next slot in one atomic statement,
next = max(now, last + 1/rate), and admits the checkout *at that slot*: `admitted_at` is
the slot, and the hold is renewed to `checkout_seconds` from it. Readers see `queued` (with
an exact wait) until the slot comes, `admitted` after. So admissions of one event are never
closer than 1/rate, with no burst; the consumer never sleeps or busy-waits, whatever the rate,
and so never needs to hand a message back (which would burn its receive count on the way
to the DLQ); and one busy event never slows another. A fan whose hold would end before their
slot is told so at once (`expired`) and its seats go back on sale, without taking a slot.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from boxoffice.clock import ceil_ms, from_ms
from boxoffice.dependencies import Dependencies
from boxoffice.errors import PoisonMessage
from boxoffice.models.admission import AdmissionMessage
from boxoffice.models.checkouts import Session, hold_end_ms, retain_until
from boxoffice.observability import MetricUnit, logger, metrics

Outcome = Literal["admitted", "skipped", "dead-lettered"]


class _Unread:
    """The session has not been read for this message yet."""


UNREAD = _Unread()


def parse_message(body: str) -> AdmissionMessage:
    try:
        return AdmissionMessage.model_validate_json(body)
    except ValidationError as error:
        raise PoisonMessage(f"not an admission message ({error.error_count()} problems)") from None


def admit(
    deps: Dependencies, message: AdmissionMessage, read: Session | _Unread | None = UNREAD
) -> Outcome:
    """Admit one queued checkout at its event's next slot; skip one that cannot use it.

    Idempotent on the checkout: only a `queued` session becomes `admitted`, by a conditional
    write, so duplicates and redeliveries admit once and take no second slot. `read` is the
    session as the batch read it (None: there is none); by default it is read here.
    """
    try:
        session = deps.sessions.get(message.checkout_id) if isinstance(read, _Unread) else read
    except ValidationError:
        raise PoisonMessage("the checkout session is unreadable") from None
    now = deps.clock.now()
    if session is not None and session.status == "admitted" and session.hold_until > now:
        # A redelivery after an outage between admitting and renewing: the seats get the
        # admitted hold's end now (idempotent), and no second slot is taken.
        deps.seats.renew(session.event_id, session.checkout_id, session.hold_until, now)
    if session is None or session.status != "queued" or session.hold_until <= now:
        deps.events.pass_in_line(message.event_id, message.seq)
        return "skipped"
    interval = timedelta(seconds=1 / session.admission_per_second)
    slot = deps.events.take_turn(
        session.event_id, session.seq, now, interval, before=session.hold_until
    )
    if slot is None:
        _end_in_line(deps, session, now)
        return "skipped"
    hold_until_ms = hold_end_ms(slot, session.checkout_seconds)
    admitted = deps.sessions.transition(
        session.checkout_id,
        "admitted",
        {"queued"},
        live_at=now,
        sets={
            "admitted_at": slot,
            "hold_until_ms": hold_until_ms,
            "expires_at": retain_until(hold_until_ms, deps.settings.session_retention_seconds),
        },
    )
    if not admitted:  # cancelled or expired a moment ago; its slot goes unused
        return "skipped"
    renewed = deps.seats.renew(session.event_id, session.checkout_id, from_ms(hold_until_ms), now)
    if renewed != len(session.seats):
        # The seats were let go between the two writes (a cancel racing this admission).
        deps.seats.release(session.event_id, session.checkout_id)
        deps.sessions.transition(session.checkout_id, "expired", {"admitted"})
        logger.warning("admitted checkout had lost its seats", extra=_ids(session.checkout_id))
        return "skipped"
    metrics.add_metric(name="CheckoutsAdmitted", unit=MetricUnit.Count, value=1)
    logger.info(
        "checkout admitted",
        extra={**_ids(session.checkout_id), "wait_seconds": (slot - now).total_seconds()},
    )
    return "admitted"


def _end_in_line(deps: Dependencies, session: Session, now: datetime) -> None:
    """The fan's hold ends before their turn could come: say so now and free the seats
    for others, rather than hold them for someone who cannot be admitted."""
    if deps.sessions.transition(
        session.checkout_id,
        "expired",
        {"queued"},
        live_at=now,
        sets={"hold_until_ms": ceil_ms(now)},
    ):
        deps.seats.release(session.event_id, session.checkout_id)
        metrics.add_metric(name="CheckoutsExpiredInLine", unit=MetricUnit.Count, value=1)
        logger.info("checkout's hold ends before its turn", extra=_ids(session.checkout_id))


def _ids(checkout_id: object) -> dict[str, str]:
    return {"checkout_id": str(checkout_id)}


@dataclass
class _Batch:
    deps: Dependencies
    # The batch's sessions, read at once; each is used once (a duplicate reads again).
    read: dict[UUID, Session] = field(default_factory=dict)
    unused: set[UUID] = field(default_factory=set)
    delays: dict[str, int] = field(default_factory=dict)

    def read_ahead(self, records: list[dict[str, Any]]) -> None:
        """One BatchGetItem for the batch's sessions instead of one GetItem per message.
        Anything unreadable is left to `admit`, which reads (and judges) it alone."""
        wanted = []
        for raw in records:
            with contextlib.suppress(PoisonMessage):
                wanted.append(parse_message(raw.get("body", "")).checkout_id)
        with contextlib.suppress(Exception):
            self.read = self.deps.sessions.get_many(wanted)
            self.unused = set(wanted)

    def handle(self, record: SQSRecord) -> Outcome:
        try:
            message = parse_message(record.body)
            if message.checkout_id in self.unused:
                self.unused.discard(message.checkout_id)
                return admit(self.deps, message, self.read.get(message.checkout_id))
            return admit(self.deps, message)
        except PoisonMessage as poison:
            # It can never succeed: retrying would only hold its event's line back.
            logger.error("poison admission message", extra={"message_id": record.message_id})
            self.deps.queue.dead_letter(
                record.body,
                record.attributes.message_group_id or "",
                record.message_id,
                poison.message,
            )
            return "dead-lettered"
        except Exception:
            receives = int(record.attributes.approximate_receive_count or 1)
            self.delays[record.message_id] = min(2 ** (receives + 2), 300)
            logger.exception("admission failed", extra={"message_id": record.message_id})
            raise


def process_batch(
    deps: Dependencies, event: dict[str, Any], context: LambdaContext
) -> PartialItemFailureResponse:
    """Admit a batch in order. A record that fails (an outage, not poison) goes back with a
    backoff delay; the records of its event after it go back with it, keeping FIFO order."""
    batch = _Batch(deps=deps)
    batch.read_ahead(event["Records"])
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    processor.raise_on_entire_batch_failure = False  # the failures are answered below
    with processor(records=event["Records"], handler=batch.handle, lambda_context=context):
        processor.process()
    response = processor.response()
    failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    group_delay: dict[str, int] = {}
    for raw in event["Records"]:
        if raw["messageId"] in failed:
            group = raw.get("attributes", {}).get("MessageGroupId", "")
            delay = batch.delays.get(raw["messageId"], group_delay.get(group, 0))
            group_delay.setdefault(group, delay)
            deps.queue.come_back_in(raw["receiptHandle"], delay)
    return response
