-- keel:checksum sha256:6d75d8e68e2816869ba6c29bfd6ad89534525d65ece3ca550bcbc649203e3882
-- keel:requires 0009
-- keel:message RLS for receipt_items: follow the household of the receipt (members read, add and change; admins delete)
--
-- Applies from 0009, which creates the table. receipt_items has no
-- household_id: a line belongs to the household of its receipt, so every
-- rule asks which receipts are in the caller's households. (The subquery on
-- receipts is itself filtered by receipts' own policies, which never look
-- at receipt_items: no recursion.) That a mapped item belongs to the same
-- household is enforced by the trigger of 0009.
-- See households.sql for the conventions shared by every policy file.

ALTER TABLE receipt_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE receipt_items FORCE ROW LEVEL SECURITY;

CREATE POLICY receipt_items_select_member ON receipt_items
    FOR SELECT TO authenticated
    USING (receipt_id IN (
        SELECT r.id FROM public.receipts AS r
        WHERE r.household_id IN (SELECT public.user_household_ids())));
COMMENT ON POLICY receipt_items_select_member ON receipt_items IS
    'Members of a household can read the lines of its receipts.';

CREATE POLICY receipt_items_insert_member ON receipt_items
    FOR INSERT TO authenticated
    WITH CHECK (receipt_id IN (
        SELECT r.id FROM public.receipts AS r
        WHERE r.household_id IN (SELECT public.user_household_ids())));
COMMENT ON POLICY receipt_items_insert_member ON receipt_items IS
    'Members of a household can add lines to its receipts, and only to them.';

CREATE POLICY receipt_items_update_member ON receipt_items
    FOR UPDATE TO authenticated
    USING (receipt_id IN (
        SELECT r.id FROM public.receipts AS r
        WHERE r.household_id IN (SELECT public.user_household_ids())))
    WITH CHECK (receipt_id IN (
        SELECT r.id FROM public.receipts AS r
        WHERE r.household_id IN (SELECT public.user_household_ids())));
COMMENT ON POLICY receipt_items_update_member ON receipt_items IS
    'Members of a household can change the lines of its receipts, but not move them to a receipt of another household.';

CREATE POLICY receipt_items_delete_admin ON receipt_items
    FOR DELETE TO authenticated
    USING (receipt_id IN (
        SELECT r.id FROM public.receipts AS r
        WHERE r.household_id IN (SELECT public.user_admin_household_ids())));
COMMENT ON POLICY receipt_items_delete_admin ON receipt_items IS
    'Only admins of a household can delete lines of its receipts.';
