-- Seats that are not available (held or booked), per event: the seat counts of the event
-- list and detail read these few rows instead of every seat of the event. Holds past their
-- time stay here until released; the counts filter them by held_until.
CREATE INDEX seats_taken ON seats (event_id, status, held_until) WHERE status <> 'available';
