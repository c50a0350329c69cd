-- The hold as one call: hold_seats() takes a client's advisory lock (when there is a
-- client), then holds every listed seat or none and gives the checkout its place in line.
-- A function because the client's count must be read after the lock is taken: in READ
-- COMMITTED each statement of a PL/pgSQL function reads with a fresh snapshot, where a
-- single statement would count from a snapshot taken before it waited for the lock. So a
-- fan's hold is one round trip (it was BEGIN, lock, hold, COMMIT).
--
-- `locked` locks the listed seats in seat order (the global lock order, so overlapping
-- holds queue rather than deadlock) and reads each one's latest committed state; `client`
-- counts the seats this client holds now; `verdict` says whether every listed seat exists
-- and is free and the client within its cap; only then does `taken` hold them and `place`
-- take the next place in the event's line (a refused hold spends no place). Its cost
-- depends on the seats listed, never on the size of the event. The generic plan is forced:
-- with the ids as one array of unknown length, Postgres would re-plan every call.
CREATE FUNCTION hold_seats(
    p_event uuid, p_ids text[], p_checkout uuid, p_until timestamptz, p_now timestamptz,
    p_line text, p_client text, p_cap integer
) RETURNS TABLE (
    seat_id text, section text, row_label text, number integer, price_cents integer,
    free boolean, seq bigint, admitted_seq bigint, next_admission_at timestamptz,
    taken bigint, within_cap boolean
)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $hold$
#variable_conflict use_column
BEGIN
    IF p_client IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(hashtextextended('hold/' || p_event || '/' || p_client, 0));
    END IF;
    RETURN QUERY
    WITH locked AS (
        SELECT s.seat_id, s.section, s.row_label, s.number, s.price_cents,
               (s.status = 'available' OR (s.status = 'held' AND s.held_until <= p_now)) AS free
        FROM seats s WHERE s.event_id = p_event AND s.seat_id = ANY(p_ids)
        ORDER BY s.seat_id FOR UPDATE
    ), client AS (
        SELECT p_client IS NULL OR count(*) + cardinality(p_ids) <= p_cap AS ok
        FROM seats s WHERE s.event_id = p_event AND s.held_by = p_client
          AND s.status = 'held' AND s.held_until > p_now
    ), verdict AS (
        SELECT count(*) FILTER (WHERE l.free) = cardinality(p_ids)
               AND (SELECT c.ok FROM client c) AS ok
        FROM locked l
    ), taken AS (
        UPDATE seats s SET status = 'held', checkout_id = p_checkout, held_until = p_until,
                           held_by = p_client
        FROM verdict v
        WHERE v.ok AND s.event_id = p_event AND s.seat_id = ANY(p_ids)
          AND (s.status = 'available' OR (s.status = 'held' AND s.held_until <= p_now))
        RETURNING s.seat_id
    ), place AS (
        SELECT nextval(p_line::regclass) AS seq, e.admitted_seq, e.next_admission_at
        FROM events e, verdict v WHERE e.id = p_event AND v.ok
    )
    SELECT l.seat_id, l.section, l.row_label, l.number, l.price_cents, l.free,
           p.seq, p.admitted_seq, p.next_admission_at, (SELECT count(*) FROM taken),
           (SELECT c.ok FROM client c)
    FROM locked l LEFT JOIN place p ON true;
END
$hold$;
