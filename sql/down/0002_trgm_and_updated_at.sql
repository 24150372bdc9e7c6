-- keel:checksum sha256:b005370f13788b0e96e627b03be551917e430110f3d0d0258e4cc25acbfe0699
-- keel:message drop set_updated_at() and pg_trgm (the extension only if 0002 installed it)
--
-- Every trigger using set_updated_at() belongs to a table created by a later
-- migration, so by now they are gone and no CASCADE is needed.
DROP FUNCTION public.set_updated_at();

-- Drop pg_trgm only if the up migration installed it (its COMMENT carries
-- the marker). An extension that was already there before sNAKr stays.
-- No CASCADE: if something outside sNAKr started using the extension since,
-- the drop fails and names it rather than dropping that object.
DO $uninstall$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_extension
               WHERE extname = 'pg_trgm'
                 AND pg_catalog.obj_description(oid, 'pg_extension') LIKE 'keel: installed by sNAKr migration 0002%') THEN
        DROP EXTENSION pg_trgm;
    END IF;
END
$uninstall$;
