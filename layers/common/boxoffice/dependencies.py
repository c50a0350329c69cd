"""What services are given: settings, a clock and the stores. Importing this builds nothing
(no boto3, no connection); `runtime` composes the real ones."""

from __future__ import annotations

from dataclasses import dataclass

from boxoffice.clock import Clock
from boxoffice.settings import Settings
from boxoffice.stores.admission_queue import AdmissionQueue
from boxoffice.stores.database import ConnectionSource
from boxoffice.stores.events import EventStore
from boxoffice.stores.orders import OrderStore
from boxoffice.stores.seats import SeatStore
from boxoffice.stores.sessions import SessionStore
from boxoffice.stores.stripe_api import StripeApi


@dataclass
class Dependencies:
    settings: Settings
    clock: Clock
    connection: ConnectionSource
    events: EventStore
    seats: SeatStore
    orders: OrderStore
    sessions: SessionStore
    queue: AdmissionQueue
    stripe: StripeApi
