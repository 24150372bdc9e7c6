-- keel:checksum sha256:bdfc40bea923c0e0cb0115eb1606201811af360798547c86813550581adcf811
-- keel:message minimal Supabase auth stand-in (schema auth, roles, auth.users, auth.uid()) for plain PostgreSQL
--
-- sNAKr's identity comes from Supabase Auth. On a real Supabase database the
-- schema `auth`, the table `auth.users`, the function `auth.uid()` and the
-- roles `authenticated` and `anon` already exist and must never be replaced.
-- On plain PostgreSQL (keel's dev database, CI, the policy tests) none of them
-- exist, so this migration creates a minimal stand-in for whatever is missing.
--
-- Every object is created only if it is missing, and every object the
-- stand-in creates in this database carries a COMMENT starting with the
-- marker 'keel stand-in for Supabase auth'. The down migration drops only
-- objects carrying that marker, so downgrading a real Supabase database
-- leaves its auth untouched.
--
-- One DO block, because PostgreSQL has no IF NOT EXISTS for roles or
-- functions, and because a plain CREATE SCHEMA IF NOT EXISTS would not tell
-- us whether the schema is ours to mark.

DO $stand_in$
BEGIN
    -- Roles are cluster-wide: another database on the same server may have
    -- created them already, so look them up in pg_roles first. NOLOGIN
    -- NOINHERIT as on Supabase: nobody logs in as these roles, the API
    -- server switches to them with SET ROLE.
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'authenticated') THEN
        CREATE ROLE authenticated NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'anon') THEN
        CREATE ROLE anon NOLOGIN NOINHERIT;
    END IF;

    -- The schema. Policy expressions run with the privileges of the querying
    -- role, so `authenticated` needs USAGE on it to call auth.uid(); `anon`
    -- gets the same as on Supabase (it has no privilege on any sNAKr table).
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'auth') THEN
        CREATE SCHEMA auth;
        COMMENT ON SCHEMA auth IS
            'keel stand-in for Supabase auth (sNAKr migration 0001): plain PostgreSQL only, dropped by its down migration';
        GRANT USAGE ON SCHEMA auth TO authenticated, anon;
    END IF;

    -- The users table, with only the columns sNAKr relies on (the real one
    -- has many more). household_members, households and invitations point
    -- here. No privilege is granted on it: as on Supabase, clients never
    -- read it directly.
    IF pg_catalog.to_regclass('auth.users') IS NULL THEN
        CREATE TABLE auth.users (
            id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
            email      text        UNIQUE,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        COMMENT ON TABLE auth.users IS
            'keel stand-in for Supabase auth (sNAKr migration 0001): minimal users table for plain PostgreSQL';
    END IF;

    -- auth.uid(): the signed-in user's id, read from the JWT claim that the
    -- API server (or a test, with set_config) puts in request.jwt.claim.sub.
    -- current_setting(..., true) gives NULL instead of an error when the
    -- setting was never defined, and nullif turns an empty one into NULL, so
    -- "nobody signed in" never matches a row. STABLE lets policies evaluate
    -- it once per statement when they wrap it as (select auth.uid()).
    IF pg_catalog.to_regprocedure('auth.uid()') IS NULL THEN
        CREATE FUNCTION auth.uid() RETURNS uuid
            LANGUAGE sql
            STABLE
            AS $fn$ SELECT nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $fn$;
        COMMENT ON FUNCTION auth.uid() IS
            'keel stand-in for Supabase auth (sNAKr migration 0001): the current user id from request.jwt.claim.sub, NULL when unset';
    END IF;
END
$stand_in$;
