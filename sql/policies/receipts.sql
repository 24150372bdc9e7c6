-- keel:checksum sha256:4d2dd9e5e9fe833340f070f36b3a0bc6aabe4dc7568c96586b3090aa74787a72
-- keel:requires 0008
-- keel:message RLS for receipts: members read, add and change; only admins delete
--
-- Applies from 0008, which creates the table.
-- See households.sql for the conventions shared by every policy file.

ALTER TABLE receipts ENABLE ROW LEVEL SECURITY;
ALTER TABLE receipts FORCE ROW LEVEL SECURITY;

CREATE POLICY receipts_select_member ON receipts
    FOR SELECT TO authenticated
    USING (household_id IN (SELECT public.user_household_ids()));
COMMENT ON POLICY receipts_select_member ON receipts IS
    'Members of a household can read its receipts rows.';

CREATE POLICY receipts_insert_member ON receipts
    FOR INSERT TO authenticated
    WITH CHECK (household_id IN (SELECT public.user_household_ids()));
COMMENT ON POLICY receipts_insert_member ON receipts IS
    'Members of a household can add receipts rows to it, and only to it.';

CREATE POLICY receipts_update_member ON receipts
    FOR UPDATE TO authenticated
    USING (household_id IN (SELECT public.user_household_ids()))
    WITH CHECK (household_id IN (SELECT public.user_household_ids()));
COMMENT ON POLICY receipts_update_member ON receipts IS
    'Members of a household can change its receipts rows, but not move them to a household they do not belong to.';

CREATE POLICY receipts_delete_admin ON receipts
    FOR DELETE TO authenticated
    USING (household_id IN (SELECT public.user_admin_household_ids()));
COMMENT ON POLICY receipts_delete_admin ON receipts IS
    'Only admins of a household can delete its receipts rows.';
