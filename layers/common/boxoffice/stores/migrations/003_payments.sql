-- Payments: an event's currency, and orders that record how the money ended (a booking
-- with its reference, or a refund), with the Stripe ids needed to act on it again.
ALTER TABLE events ADD COLUMN currency text NOT NULL DEFAULT 'usd';

ALTER TABLE orders
    ADD COLUMN status text NOT NULL DEFAULT 'booked'
        CHECK (status IN ('booked', 'refund_pending', 'refunded')),
    -- the booking code a person reads out (e.g. BX7-K2Q9); refunds have none
    ADD COLUMN reference text UNIQUE,
    ADD COLUMN currency text NOT NULL DEFAULT 'usd',
    ADD COLUMN payment_session_id text,
    ADD COLUMN payment_intent text,
    -- refunds are retried with a new idempotency key once Stripe has answered one with an error
    ADD COLUMN refund_attempt integer NOT NULL DEFAULT 0,
    ADD COLUMN refund_key_spent boolean NOT NULL DEFAULT false,
    ADD COLUMN refund_reason text,
    ADD COLUMN refund_id text,
    ADD COLUMN refunded_at timestamptz,
    ADD CONSTRAINT booked_has_reference CHECK (status <> 'booked' OR reference IS NOT NULL)
        NOT VALID;

-- Orders booked before references existed get one now.
UPDATE orders SET reference = upper(substr(md5(checkout_id::text), 1, 3)) || '-'
    || upper(substr(md5(checkout_id::text), 4, 4))
WHERE reference IS NULL;
ALTER TABLE orders VALIDATE CONSTRAINT booked_has_reference;
