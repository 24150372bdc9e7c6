-- keel:checksum sha256:0de04c95f7f28d6cf5af112a76955aa0da29fc646f508808f350686c9ea906ee
-- keel:requires 0004
-- keel:message RLS for households: members read, any signed-in user creates, admins update and delete
--
-- Applies from 0004, not 0003 (which creates the table): every rule here
-- needs household_members and the membership helpers created by 0004.
--
-- Conventions of every policy file (they fix the defects of the original):
-- * TO authenticated on every policy: nothing applies to PUBLIC, so anon
--   (which also has no table privilege) sees nothing.
-- * (SELECT auth.uid()) and (SELECT public.user_household_ids()) instead of
--   bare calls: the planner runs the subquery once per statement, not once
--   per row.
-- * Membership is asked of the SECURITY DEFINER helpers from 0004, never
--   with a subquery on household_members: no policy can recurse.
-- * Writes have both USING (which existing rows may be touched) and WITH
--   CHECK (what rows may look like afterwards), so a row can be neither
--   changed in nor moved into another household.
-- * FORCE: the table owner is subject to the policies too, so nothing that
--   runs as the owner bypasses them by accident (superusers and BYPASSRLS
--   roles still do, by design).
-- * Table names are written unqualified: every sNAKr table is in schema
--   public, which is what keel assumes for an unqualified name. Functions in
--   expressions stay schema-qualified.

ALTER TABLE households ENABLE ROW LEVEL SECURITY;
ALTER TABLE households FORCE ROW LEVEL SECURITY;

CREATE POLICY households_select_member ON households
    FOR SELECT TO authenticated
    USING (id IN (SELECT public.user_household_ids()));
COMMENT ON POLICY households_select_member ON households IS
    'A member of a household can read it.';

-- Between "create the household" and "add myself as its first admin" the
-- creator is not a member yet, but must be able to read the new row (an
-- INSERT ... RETURNING, which every client library does, needs it). Only
-- while the household has no member at all. created_by is read from the
-- row itself: a helper that looked the household up would not see a row
-- inserted by the statement being checked.
CREATE POLICY households_select_creator_before_first_admin ON households
    FOR SELECT TO authenticated
    USING (created_by = (SELECT auth.uid()) AND NOT public.household_has_members(id));
COMMENT ON POLICY households_select_creator_before_first_admin ON households IS
    'The creator of a household can read it while it has no member yet (before adding themself as its first admin).';

-- created_by defaults to auth.uid(); the check refuses any other value, so
-- a household is always created by, and claimable by, the caller only.
CREATE POLICY households_insert_signed_in ON households
    FOR INSERT TO authenticated
    WITH CHECK (created_by = (SELECT auth.uid()));
COMMENT ON POLICY households_insert_signed_in ON households IS
    'Any signed-in user can create a household, recorded as created by themself (they then add themself as its first admin).';

CREATE POLICY households_update_admin ON households
    FOR UPDATE TO authenticated
    USING (id IN (SELECT public.user_admin_household_ids()))
    WITH CHECK (id IN (SELECT public.user_admin_household_ids()));
COMMENT ON POLICY households_update_admin ON households IS
    'Only admins of a household can change it.';

CREATE POLICY households_delete_admin ON households
    FOR DELETE TO authenticated
    USING (id IN (SELECT public.user_admin_household_ids()));
COMMENT ON POLICY households_delete_admin ON households IS
    'Only admins of a household can delete it (with everything in it).';
