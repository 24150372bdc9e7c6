-- keel:checksum sha256:6ddcbd206961df305c29a11b1946cafb500066d1850f37843012b325365e9ad6
-- keel:message drop what the auth stand-in of 0001 created (only objects carrying its marker, never a real Supabase auth)
--
-- Only objects whose COMMENT starts with 'keel stand-in for Supabase auth'
-- are dropped. On a real Supabase database nothing matches and its auth
-- schema is left alone. Reverse order of the up migration.
--
-- The roles `authenticated` and `anon` are deliberately NOT dropped: roles
-- belong to the whole cluster, other databases on the same server may use
-- them (or may have created them before us), and DROP ROLE would fail anyway
-- while an object in another database grants them a privilege.
--
-- No CASCADE: if someone put their own objects into the stand-in schema, or
-- made something else depend on auth.users, the drop fails and PostgreSQL
-- names the dependent objects instead of destroying them.

DO $stand_in$
DECLARE
    marker constant text := 'keel stand-in for Supabase auth%';
BEGIN
    IF pg_catalog.obj_description(pg_catalog.to_regprocedure('auth.uid()'), 'pg_proc') LIKE marker THEN
        DROP FUNCTION auth.uid();
    END IF;

    IF pg_catalog.obj_description(pg_catalog.to_regclass('auth.users'), 'pg_class') LIKE marker THEN
        DROP TABLE auth.users;
    END IF;

    IF EXISTS (SELECT FROM pg_catalog.pg_namespace
               WHERE nspname = 'auth'
                 AND pg_catalog.obj_description(oid, 'pg_namespace') LIKE marker) THEN
        DROP SCHEMA auth;
    END IF;
END
$stand_in$;
