-- keel:checksum sha256:93d43980987b1575462c1b99f114c14fb30e39aa4a461c4880e75a118ade52f0
-- keel:message extension pg_trgm (fuzzy item-name search) and the shared set_updated_at() trigger function
--
-- pg_trgm gives items.name its trigram index (receipt lines are matched to
-- catalog items by similarity). A database may already have it (Supabase
-- projects often do, some other application may use it): then it is left as
-- it is. When this migration installs it, it marks it with a COMMENT so that
-- the down migration removes only an extension it installed itself.
DO $install$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        COMMENT ON EXTENSION pg_trgm IS
            'keel: installed by sNAKr migration 0002 for the trigram index on items.name; dropped by its down migration';
    END IF;
END
$install$;

-- One trigger function keeps updated_at current on every mutable table
-- (each table migration adds its own BEFORE UPDATE trigger). Setting it in
-- the database, not in the application, means no client can forget it or
-- forge it. now() is the transaction's start time: every row changed by one
-- transaction gets the same updated_at.
-- The empty search_path pins name resolution (pg_catalog is always searched
-- first, so now() still resolves): no schema a caller controls can shadow it.
CREATE FUNCTION public.set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
    AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION public.set_updated_at IS
    'BEFORE UPDATE trigger function: sets NEW.updated_at to now() on every mutable sNAKr table';
