-- Places in an event's line come from a sequence of its own: taking one no longer locks
-- the event's row, so successful holds of one event stop queueing behind each other.
DO $$
DECLARE
    e record;
BEGIN
    FOR e IN SELECT id, checkout_seq FROM events LOOP
        EXECUTE format(
            'CREATE SEQUENCE IF NOT EXISTS %I START %s',
            'event_line_' || replace(e.id::text, '-', ''),
            e.checkout_seq + 1
        );
    END LOOP;
END
$$;

ALTER TABLE events DROP COLUMN checkout_seq;
