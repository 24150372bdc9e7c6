-- keel:checksum sha256:3f9e55c05316ca25a9ce7656b2ce587f6bd4260b9c49fa7a6ce60694d8600fe3
-- keel:message households: the tenant
--
-- Every other sNAKr table hangs off a household (directly through
-- household_id, or through a receipt for receipt_items). Access rules live in
-- sql/policies/households.sql.

CREATE TABLE public.households (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text        NOT NULL,
    -- Who created the household. The model has no such column; it is added
    -- because the "first admin" access rule needs it: the creator of a
    -- household that has no members yet may add themself as its admin. The
    -- default fills it from the caller's JWT, and the insert policy refuses
    -- any other value, so nobody can create a household "for" someone else.
    -- SET NULL: deleting the creator's account must not delete a household
    -- other people still live in.
    created_by uuid        DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- For the ON DELETE SET NULL from auth.users and for the first-admin check.
CREATE INDEX households_created_by_idx ON public.households (created_by);

CREATE TRIGGER households_set_updated_at
    BEFORE UPDATE ON public.households
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- Privileges: start from nothing, then grant what the access rules need.
-- On Supabase, default privileges give anon and authenticated ALL on every
-- new table in public, including TRUNCATE, which RLS does not govern. anon
-- gets nothing; authenticated gets plain DML, filtered by the policies.
REVOKE ALL ON TABLE public.households FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.households TO authenticated;

COMMENT ON TABLE public.households IS
    'The tenant: a group of people sharing fridge, pantry and freezer';
COMMENT ON COLUMN public.households.created_by IS
    'User who created the household; may add themself as its first admin while it has no members';
