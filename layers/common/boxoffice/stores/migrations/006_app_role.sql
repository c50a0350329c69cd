-- The role the functions log in as, instead of the master user: it reads and writes the
-- app's rows and makes the per-event line sequences (CREATE SEQUENCE on a new event), and
-- owns nothing else. It is made NOLOGIN; in AWS the migrate function then gives it LOGIN and
-- the password of the stack's AppDbSecret. Locally (a superuser runs the migrations, the
-- app connects with DATABASE_URL) the role is made and never used: harmless. Roles are
-- cluster-wide, so making it tolerates another database of the cluster having made it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'boxoffice_app') THEN
        CREATE ROLE boxoffice_app NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

-- The migrating user may act on what the app owns (its sequences), as a later migration must.
DO $$
BEGIN
    EXECUTE format('GRANT boxoffice_app TO %I', current_user);
EXCEPTION WHEN duplicate_object OR invalid_grant_operation THEN
    NULL;
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO boxoffice_app', current_database());
END
$$;
GRANT USAGE, CREATE ON SCHEMA public TO boxoffice_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO boxoffice_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO boxoffice_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO boxoffice_app;
-- Tables, sequences and functions of later migrations (made by the same migrating user).
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO boxoffice_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO boxoffice_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO boxoffice_app;
