-- An event may place its stage and sections (drawn by the page as the venue), and keeps
-- the order its sections were given in, so maps and suggestions follow it, not the alphabet.
ALTER TABLE events ADD COLUMN layout jsonb;
ALTER TABLE events ADD COLUMN section_order text[];
