-- Seat spinning: each event caps the seats one client holds at once, so the hold records
-- who holds it (the client's address); a partial index finds a client's live holds.
ALTER TABLE events ADD COLUMN max_held_per_client integer NOT NULL DEFAULT 20
    CHECK (max_held_per_client > 0);
ALTER TABLE seats ADD COLUMN held_by text;
CREATE INDEX seats_held_by ON seats (event_id, held_by) WHERE status = 'held';
