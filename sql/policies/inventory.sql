-- keel:checksum sha256:7ce9c82347d52c31029690b9737a3396e31f177d5ebd68dc54557d68b7fcd894
-- keel:requires 0006
-- keel:message RLS for inventory: members read, add and change; only admins delete
--
-- Applies from 0006, which creates the table.
-- See households.sql for the conventions shared by every policy file.

ALTER TABLE inventory ENABLE ROW LEVEL SECURITY;
ALTER TABLE inventory FORCE ROW LEVEL SECURITY;

CREATE POLICY inventory_select_member ON inventory
    FOR SELECT TO authenticated
    USING (household_id IN (SELECT public.user_household_ids()));
COMMENT ON POLICY inventory_select_member ON inventory IS
    'Members of a household can read its inventory rows.';

CREATE POLICY inventory_insert_member ON inventory
    FOR INSERT TO authenticated
    WITH CHECK (household_id IN (SELECT public.user_household_ids()));
COMMENT ON POLICY inventory_insert_member ON inventory IS
    'Members of a household can add inventory rows to it, and only to it.';

CREATE POLICY inventory_update_member ON inventory
    FOR UPDATE TO authenticated
    USING (household_id IN (SELECT public.user_household_ids()))
    WITH CHECK (household_id IN (SELECT public.user_household_ids()));
COMMENT ON POLICY inventory_update_member ON inventory IS
    'Members of a household can change its inventory rows, but not move them to a household they do not belong to.';

CREATE POLICY inventory_delete_admin ON inventory
    FOR DELETE TO authenticated
    USING (household_id IN (SELECT public.user_admin_household_ids()));
COMMENT ON POLICY inventory_delete_admin ON inventory IS
    'Only admins of a household can delete its inventory rows.';
