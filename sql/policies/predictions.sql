-- keel:checksum sha256:05c3144602ee6537ec0f1883b38c3e7fefe8845928e7e361aeb3fb58b642126d
-- keel:requires 0010
-- keel:message RLS for predictions: members read, add and change; only admins delete
--
-- Applies from 0010, which creates the table.
-- See households.sql for the conventions shared by every policy file.

ALTER TABLE predictions ENABLE ROW LEVEL SECURITY;
ALTER TABLE predictions FORCE ROW LEVEL SECURITY;

CREATE POLICY predictions_select_member ON predictions
    FOR SELECT TO authenticated
    USING (household_id IN (SELECT public.user_household_ids()));
COMMENT ON POLICY predictions_select_member ON predictions IS
    'Members of a household can read its predictions rows.';

CREATE POLICY predictions_insert_member ON predictions
    FOR INSERT TO authenticated
    WITH CHECK (household_id IN (SELECT public.user_household_ids()));
COMMENT ON POLICY predictions_insert_member ON predictions IS
    'Members of a household can add predictions rows to it, and only to it.';

CREATE POLICY predictions_update_member ON predictions
    FOR UPDATE TO authenticated
    USING (household_id IN (SELECT public.user_household_ids()))
    WITH CHECK (household_id IN (SELECT public.user_household_ids()));
COMMENT ON POLICY predictions_update_member ON predictions IS
    'Members of a household can change its predictions rows, but not move them to a household they do not belong to.';

CREATE POLICY predictions_delete_admin ON predictions
    FOR DELETE TO authenticated
    USING (household_id IN (SELECT public.user_admin_household_ids()));
COMMENT ON POLICY predictions_delete_admin ON predictions IS
    'Only admins of a household can delete its predictions rows.';
