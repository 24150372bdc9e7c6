-- keel:checksum sha256:35c5c793010606f341edea48e70db653fdf8f7cfd4b2deea58f1bfec90ef301d
-- keel:requires 0004
-- keel:message RLS for household_members: members read, admins manage, users leave, the creator becomes first admin
--
-- Every membership question goes through the SECURITY DEFINER helpers of
-- 0004. A subquery on household_members inside these policies would make
-- PostgreSQL raise "infinite recursion detected in policy for relation
-- household_members" at the first query (defect 1 of the original).
-- See households.sql for the conventions shared by every policy file.

ALTER TABLE household_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE household_members FORCE ROW LEVEL SECURITY;

-- Own memberships are included: a user is a member of their own households.
CREATE POLICY household_members_select_member ON household_members
    FOR SELECT TO authenticated
    USING (household_id IN (SELECT public.user_household_ids()));
COMMENT ON POLICY household_members_select_member ON household_members IS
    'A user can read their own memberships and every membership of the households they belong to.';

CREATE POLICY household_members_insert_admin ON household_members
    FOR INSERT TO authenticated
    WITH CHECK (household_id IN (SELECT public.user_admin_household_ids()));
COMMENT ON POLICY household_members_insert_admin ON household_members IS
    'Admins of a household can add members to it.';

-- The bootstrap: nobody is admin of a brand-new household, so the rule
-- above cannot apply. The creator may insert exactly one kind of row:
-- themself, as admin, into a household they created that has no member.
-- (The original compared household_members.household_id with itself, so
-- its "no member yet" test never looked at the target household: defect 2.)
CREATE POLICY household_members_insert_first_admin ON household_members
    FOR INSERT TO authenticated
    WITH CHECK (
        user_id = (SELECT auth.uid())
        AND role = 'admin'
        AND public.can_become_first_admin(household_id)
    );
COMMENT ON POLICY household_members_insert_first_admin ON household_members IS
    'The creator of a household that has no member yet can add themself as its first admin.';

CREATE POLICY household_members_update_admin ON household_members
    FOR UPDATE TO authenticated
    USING (household_id IN (SELECT public.user_admin_household_ids()))
    WITH CHECK (household_id IN (SELECT public.user_admin_household_ids()));
COMMENT ON POLICY household_members_update_admin ON household_members IS
    'Only admins of a household can change its memberships (e.g. roles).';

CREATE POLICY household_members_delete_admin ON household_members
    FOR DELETE TO authenticated
    USING (household_id IN (SELECT public.user_admin_household_ids()));
COMMENT ON POLICY household_members_delete_admin ON household_members IS
    'Admins of a household can remove members from it.';

CREATE POLICY household_members_delete_self ON household_members
    FOR DELETE TO authenticated
    USING (user_id = (SELECT auth.uid()));
COMMENT ON POLICY household_members_delete_self ON household_members IS
    'Any user can remove their own membership (leave a household).';
