"""An offline Stripe: the part of its API this project calls, its hosted checkout page and
its signed webhooks, speaking Stripe's wire format (form-encoded requests, JSON answers,
`{"error": {...}}` errors, `Idempotency-Key` replay).

It behaves as Stripe does where it matters to the code under test:
- a key's first answer is kept and replayed (errors included, marked `Idempotent-Replayed`);
  the same key with other parameters is refused, and one still running answers 409;
- `expires_at` must lie 30 minutes to 24 hours ahead;
- only an open session can be expired; paying one sends a signed
  `checkout.session.completed` to the webhook URL (retried with backoff until it is
  answered 2xx) and sends the browser to `success_url`;
- a payment is refunded in full once; a second refund is refused (`charge_already_refunded`).

Tests steer it through `/_standin/...` (or the object itself): inject faults per endpoint
(`create_session`, `get_session`, `expire`, `create_refund`; `error`: the next calls answer
500; `hang`: they answer only after a delay), pay a session without a browser, read its state.

- `wire`: the form codec, Stripe's errors, webhook signatures;
- `idempotency`: the kept answers by `Idempotency-Key`;
- `api`: sessions, payments, refunds and injected faults (the state, no HTTP);
- `webhooks`: the event envelope, signed delivery, redelivery with backoff;
- `app`: the WSGI app (the API's paths, the hosted page, `/_standin/` controls);
- `server`: the app on a threaded HTTP server.
"""

from local.stripe_standin.api import MAX_LIFETIME_SECONDS, MIN_LIFETIME_SECONDS, Fault
from local.stripe_standin.app import StripeStandIn
from local.stripe_standin.idempotency import IDEMPOTENCY_SECONDS
from local.stripe_standin.server import StripeServer
from local.stripe_standin.webhooks import WEBHOOK_RETRY_SECONDS
from local.stripe_standin.wire import StripeError, decode_form, sign

__all__ = [
    "IDEMPOTENCY_SECONDS",
    "MAX_LIFETIME_SECONDS",
    "MIN_LIFETIME_SECONDS",
    "WEBHOOK_RETRY_SECONDS",
    "Fault",
    "StripeError",
    "StripeServer",
    "StripeStandIn",
    "decode_form",
    "sign",
]
