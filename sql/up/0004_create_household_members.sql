-- keel:checksum sha256:fb079cce0d8d3197388c8d4c7d916e75a752d8387d0116c1802229b0b16a4564
-- keel:message household_members (who belongs where, with which role) and the SECURITY DEFINER membership helpers used by every policy

CREATE TABLE public.household_members (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    household_id uuid        NOT NULL REFERENCES public.households (id) ON DELETE CASCADE,
    user_id      uuid        NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    role         text        NOT NULL
                             CONSTRAINT household_members_role_check CHECK (role IN ('admin', 'member')),
    joined_at    timestamptz NOT NULL DEFAULT now(),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    -- One membership per (household, user). Its index leads with
    -- household_id, so it also serves as the tenant-column index.
    CONSTRAINT household_members_household_user_key UNIQUE (household_id, user_id)
);

-- "Which households is this user in": the lookup behind every policy (see
-- the helpers below), and the ON DELETE CASCADE from auth.users.
CREATE INDEX household_members_user_id_idx ON public.household_members (user_id);

CREATE TRIGGER household_members_set_updated_at
    BEFORE UPDATE ON public.household_members
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- See 0003 for why privileges start from nothing.
REVOKE ALL ON TABLE public.household_members FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.household_members TO authenticated;

COMMENT ON TABLE public.household_members IS
    'Who belongs to which household, as admin or member: the tenant boundary every policy checks';

-- Membership helpers -------------------------------------------------------
--
-- Every policy asks "is the current user a member (or an admin) of this
-- household?". Asking it with a subquery on household_members inside
-- household_members' own policies makes PostgreSQL raise "infinite recursion
-- detected in policy for relation household_members" (defect 1 of the
-- original policies). These functions answer it instead:
--
-- * SECURITY DEFINER: they run as their owner, for whom RLS does not apply,
--   so reading household_members inside them does not re-enter its policies.
--   The owner is the role that runs the migrations; it must be a superuser
--   or have BYPASSRLS (as `postgres` has on Supabase), because FORCE ROW
--   LEVEL SECURITY would otherwise apply to the owner too and the helpers
--   would return nothing (every user would see nothing: closed, not open).
-- * SET search_path = '' and schema-qualified names: a SECURITY DEFINER
--   function must not resolve names through a search_path its caller
--   controls (the caller could shadow household_members with their own).
-- * STABLE: the result cannot change within a statement. Policies call them
--   inside an uncorrelated subquery, `household_id IN (SELECT
--   public.user_household_ids())`, which PostgreSQL evaluates once per
--   statement, not once per row.
-- * They answer about the caller (auth.uid()) only, except
--   household_has_members, which answers yes or no for a household id the
--   caller must already know (ids are random UUIDs). Exposing them to
--   `authenticated` reveals nothing else.

CREATE FUNCTION public.user_household_ids() RETURNS SETOF uuid
    LANGUAGE sql
    STABLE
    SECURITY DEFINER
    SET search_path = ''
    AS $$
        SELECT household_id FROM public.household_members WHERE user_id = auth.uid()
    $$;

CREATE FUNCTION public.user_admin_household_ids() RETURNS SETOF uuid
    LANGUAGE sql
    STABLE
    SECURITY DEFINER
    SET search_path = ''
    AS $$
        SELECT household_id FROM public.household_members WHERE user_id = auth.uid() AND role = 'admin'
    $$;

-- The "first admin" rule: the creator of a household may add themself as
-- its admin while the household has no member at all. (The original policy
-- compared household_members.household_id with itself, so its "no member
-- yet" test never looked at the household being inserted: defect 2.) It
-- reads household_members, so it must be SECURITY DEFINER for the same
-- recursion reason as above.
CREATE FUNCTION public.can_become_first_admin(p_household_id uuid) RETURNS boolean
    LANGUAGE sql
    STABLE
    SECURITY DEFINER
    SET search_path = ''
    AS $$
        SELECT EXISTS (
            SELECT FROM public.households AS h
            WHERE h.id = p_household_id
              AND h.created_by = auth.uid()
              AND NOT EXISTS (SELECT FROM public.household_members AS m WHERE m.household_id = h.id)
        )
    $$;

-- Whether a household has any member: lets the creator read their new
-- household before they are its first admin (households' select policy). It
-- reads household_members, so it is SECURITY DEFINER for the same reason.
CREATE FUNCTION public.household_has_members(p_household_id uuid) RETURNS boolean
    LANGUAGE sql
    STABLE
    SECURITY DEFINER
    SET search_path = ''
    AS $$
        SELECT EXISTS (SELECT FROM public.household_members WHERE household_id = p_household_id)
    $$;

-- Functions are executable by PUBLIC by default (and on Supabase default
-- privileges also grant anon): only signed-in users need these.
REVOKE ALL ON FUNCTION public.user_household_ids() FROM PUBLIC, anon;
REVOKE ALL ON FUNCTION public.user_admin_household_ids() FROM PUBLIC, anon;
REVOKE ALL ON FUNCTION public.can_become_first_admin(uuid) FROM PUBLIC, anon;
REVOKE ALL ON FUNCTION public.household_has_members(uuid) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.user_household_ids() TO authenticated;
GRANT EXECUTE ON FUNCTION public.user_admin_household_ids() TO authenticated;
GRANT EXECUTE ON FUNCTION public.can_become_first_admin(uuid) TO authenticated;
GRANT EXECUTE ON FUNCTION public.household_has_members(uuid) TO authenticated;

COMMENT ON FUNCTION public.user_household_ids IS
    'Ids of the households the current user (auth.uid()) belongs to; SECURITY DEFINER so policies can use it without recursing into household_members';
COMMENT ON FUNCTION public.user_admin_household_ids IS
    'Ids of the households where the current user (auth.uid()) is admin; SECURITY DEFINER for the same reason';
COMMENT ON FUNCTION public.can_become_first_admin IS
    'True when the current user created the household and it has no member yet: they may add themself as its first admin';
COMMENT ON FUNCTION public.household_has_members IS
    'True when the household has at least one member; SECURITY DEFINER so the households policies can ask without recursing';
