-- keel:checksum sha256:588be99eef36396a95676ef6be105c01495e11f21c538746d0b5b63e0f5c3e27
-- keel:requires 0005
-- keel:message RLS for items: members read, add and change; only admins delete
--
-- Applies from 0005, which creates the table.
-- See households.sql for the conventions shared by every policy file.

ALTER TABLE items ENABLE ROW LEVEL SECURITY;
ALTER TABLE items FORCE ROW LEVEL SECURITY;

CREATE POLICY items_select_member ON items
    FOR SELECT TO authenticated
    USING (household_id IN (SELECT public.user_household_ids()));
COMMENT ON POLICY items_select_member ON items IS
    'Members of a household can read its items rows.';

CREATE POLICY items_insert_member ON items
    FOR INSERT TO authenticated
    WITH CHECK (household_id IN (SELECT public.user_household_ids()));
COMMENT ON POLICY items_insert_member ON items IS
    'Members of a household can add items rows to it, and only to it.';

CREATE POLICY items_update_member ON items
    FOR UPDATE TO authenticated
    USING (household_id IN (SELECT public.user_household_ids()))
    WITH CHECK (household_id IN (SELECT public.user_household_ids()));
COMMENT ON POLICY items_update_member ON items IS
    'Members of a household can change its items rows, but not move them to a household they do not belong to.';

CREATE POLICY items_delete_admin ON items
    FOR DELETE TO authenticated
    USING (household_id IN (SELECT public.user_admin_household_ids()));
COMMENT ON POLICY items_delete_admin ON items IS
    'Only admins of a household can delete its items rows.';
