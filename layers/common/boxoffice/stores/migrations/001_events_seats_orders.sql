-- Events, their seats (the state every hold is decided on) and paid orders.
CREATE TABLE events (
    id                   uuid PRIMARY KEY,
    name                 text NOT NULL,
    venue                text NOT NULL,
    starts_at            timestamptz NOT NULL,
    hold_seconds         integer NOT NULL CHECK (hold_seconds > 0),
    checkout_seconds     integer NOT NULL CHECK (checkout_seconds > 0),
    admission_per_second double precision NOT NULL CHECK (admission_per_second > 0),
    created_at           timestamptz NOT NULL DEFAULT now(),
    -- the last place in line handed to a checkout of this event
    checkout_seq         bigint NOT NULL DEFAULT 0,
    -- the highest place in line the admission consumer has passed (admitted or skipped)
    admitted_seq         bigint NOT NULL DEFAULT 0,
    -- the earliest moment the next admission of this event may happen
    next_admission_at    timestamptz
);

CREATE TABLE seats (
    event_id    uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    seat_id     text NOT NULL,
    section     text NOT NULL,
    row_label   text NOT NULL,
    number      integer NOT NULL,
    price_cents integer NOT NULL CHECK (price_cents >= 0),
    status      text NOT NULL DEFAULT 'available',
    checkout_id uuid,
    held_until  timestamptz,
    PRIMARY KEY (event_id, seat_id),
    CONSTRAINT seat_state CHECK (
        (status = 'available' AND checkout_id IS NULL AND held_until IS NULL)
        OR (status = 'held' AND checkout_id IS NOT NULL AND held_until IS NOT NULL)
        OR (status = 'booked' AND checkout_id IS NOT NULL AND held_until IS NULL)
    )
);

CREATE INDEX seats_by_checkout ON seats (checkout_id) WHERE checkout_id IS NOT NULL;
CREATE INDEX seats_by_hold_end ON seats (held_until) WHERE status = 'held';

CREATE TABLE orders (
    checkout_id      uuid PRIMARY KEY,
    event_id         uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    seat_ids         text[] NOT NULL,
    amount_cents     integer NOT NULL,
    payment_provider text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
