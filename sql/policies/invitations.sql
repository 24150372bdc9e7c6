-- keel:checksum sha256:e9a9465c90ec98471518c9e2d44521d58ed7e7f38e85e9fbc85341499d596a1b
-- keel:requires 0012
-- keel:message RLS for invitations: members read; only admins create, change or delete
--
-- Applies from 0012, which creates the table.
-- See households.sql for the conventions shared by every policy file.

ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;

CREATE POLICY invitations_select_member ON invitations
    FOR SELECT TO authenticated
    USING (household_id IN (SELECT public.user_household_ids()));
COMMENT ON POLICY invitations_select_member ON invitations IS
    'Members of a household can read its invitations.';

-- inviter_id must be the caller: an admin cannot send an invitation in
-- someone else's name.
CREATE POLICY invitations_insert_admin ON invitations
    FOR INSERT TO authenticated
    WITH CHECK (
        household_id IN (SELECT public.user_admin_household_ids())
        AND inviter_id = (SELECT auth.uid())
    );
COMMENT ON POLICY invitations_insert_admin ON invitations IS
    'Only admins of a household can invite people to it, as themselves (inviter_id is the caller).';

CREATE POLICY invitations_update_admin ON invitations
    FOR UPDATE TO authenticated
    USING (household_id IN (SELECT public.user_admin_household_ids()))
    WITH CHECK (household_id IN (SELECT public.user_admin_household_ids()));
COMMENT ON POLICY invitations_update_admin ON invitations IS
    'Only admins of a household can change its invitations (e.g. cancel one).';

CREATE POLICY invitations_delete_admin ON invitations
    FOR DELETE TO authenticated
    USING (household_id IN (SELECT public.user_admin_household_ids()));
COMMENT ON POLICY invitations_delete_admin ON invitations IS
    'Only admins of a household can delete its invitations.';
