-- keel:checksum sha256:66c54acf11b4a8c3d8031ed926bb2986797efed87bf21d91cfd1d2f48144dbc6
-- keel:requires 0011
-- keel:message RLS for restock_list: members read, add and change; only admins delete
--
-- Applies from 0011, which creates the table.
-- See households.sql for the conventions shared by every policy file.

ALTER TABLE restock_list ENABLE ROW LEVEL SECURITY;
ALTER TABLE restock_list FORCE ROW LEVEL SECURITY;

CREATE POLICY restock_list_select_member ON restock_list
    FOR SELECT TO authenticated
    USING (household_id IN (SELECT public.user_household_ids()));
COMMENT ON POLICY restock_list_select_member ON restock_list IS
    'Members of a household can read its restock_list rows.';

CREATE POLICY restock_list_insert_member ON restock_list
    FOR INSERT TO authenticated
    WITH CHECK (household_id IN (SELECT public.user_household_ids()));
COMMENT ON POLICY restock_list_insert_member ON restock_list IS
    'Members of a household can add restock_list rows to it, and only to it.';

CREATE POLICY restock_list_update_member ON restock_list
    FOR UPDATE TO authenticated
    USING (household_id IN (SELECT public.user_household_ids()))
    WITH CHECK (household_id IN (SELECT public.user_household_ids()));
COMMENT ON POLICY restock_list_update_member ON restock_list IS
    'Members of a household can change its restock_list rows, but not move them to a household they do not belong to.';

CREATE POLICY restock_list_delete_admin ON restock_list
    FOR DELETE TO authenticated
    USING (household_id IN (SELECT public.user_admin_household_ids()));
COMMENT ON POLICY restock_list_delete_admin ON restock_list IS
    'Only admins of a household can delete its restock_list rows.';
