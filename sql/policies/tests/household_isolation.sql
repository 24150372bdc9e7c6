-- keel:checksum sha256:23470f24c5839c7b3710205377af931495f605a134929f015b55407b1c0a317c
-- keel:message tenant isolation: three users and three households, every table, every access rule; raises on any leak
--
-- How it runs: `keel policies test`, on a database at head (keel applies
-- the policies on every upgrade), runs it in one transaction that is always
-- rolled back, connected as a superuser. The superuser bypasses RLS, so it
-- only writes the fixtures and the test helpers. Every assertion then runs
-- after SET LOCAL ROLE authenticated (or anon) with a user id in
-- request.jwt.claim.sub, which is what Supabase's API server does, so RLS
-- really applies. Any leak raises an exception naming the user, the table
-- and the rule; the file passes when nothing is raised. (The original tests
-- only printed PASS/FAIL notices as a superuser, so they could never fail:
-- defect 6.)
--
-- Without keel's policy stage (migrations applied, policies not):
--   { echo 'BEGIN;'; cat sql/policies/*.sql sql/policies/tests/household_isolation.sql; echo 'ROLLBACK;'; } \
--     | psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1
--
-- The scenario:
--   user 1: admin of household 1
--   user 2: member of household 1, admin of household 2
--   user 3: admin of household 3
-- and rows in every table for every household.

-- ===========================================================================
-- Fixtures (as the superuser)
-- ===========================================================================
-- Fixed ids, so that a failure message can be traced back here:
--   users      a0000000-...-00000000000N
--   households b0000000-...-00000000000N
--   items      c0000000-...-00000000000N ("main": has inventory, a prediction,
--              a restock entry, events and receipt lines) and
--              c0000000-...-00000000001N ("spare": nothing refers to it)
--   receipts   d0000000-...-00000000000N

INSERT INTO auth.users (id, email) VALUES
    ('a0000000-0000-0000-0000-000000000001', 'user1@example.test'),
    ('a0000000-0000-0000-0000-000000000002', 'user2@example.test'),
    ('a0000000-0000-0000-0000-000000000003', 'user3@example.test');

INSERT INTO public.households (id, name, created_by) VALUES
    ('b0000000-0000-0000-0000-000000000001', 'Household 1', 'a0000000-0000-0000-0000-000000000001'),
    ('b0000000-0000-0000-0000-000000000002', 'Household 2', 'a0000000-0000-0000-0000-000000000002'),
    ('b0000000-0000-0000-0000-000000000003', 'Household 3', 'a0000000-0000-0000-0000-000000000003');

INSERT INTO public.household_members (household_id, user_id, role) VALUES
    ('b0000000-0000-0000-0000-000000000001', 'a0000000-0000-0000-0000-000000000001', 'admin'),
    ('b0000000-0000-0000-0000-000000000001', 'a0000000-0000-0000-0000-000000000002', 'member'),
    ('b0000000-0000-0000-0000-000000000002', 'a0000000-0000-0000-0000-000000000002', 'admin'),
    ('b0000000-0000-0000-0000-000000000003', 'a0000000-0000-0000-0000-000000000003', 'admin');

-- Everything else: the same rows for each household n = 1, 2, 3.
INSERT INTO public.items (id, household_id, name, category, location)
SELECT ('c0000000-0000-0000-0000-00000000000' || n)::uuid, ('b0000000-0000-0000-0000-00000000000' || n)::uuid,
       'Milk', 'dairy', 'fridge'
FROM generate_series(1, 3) AS n
UNION ALL
SELECT ('c0000000-0000-0000-0000-00000000001' || n)::uuid, ('b0000000-0000-0000-0000-00000000000' || n)::uuid,
       'Rice', 'pantry_staple', 'pantry'
FROM generate_series(1, 3) AS n;

INSERT INTO public.inventory (household_id, item_id, state, confidence)
SELECT ('b0000000-0000-0000-0000-00000000000' || n)::uuid, ('c0000000-0000-0000-0000-00000000000' || n)::uuid, 'low', 0.80
FROM generate_series(1, 3) AS n;

INSERT INTO public.receipts (id, household_id, file_path, file_type, file_size_bytes, status)
SELECT ('d0000000-0000-0000-0000-00000000000' || n)::uuid, ('b0000000-0000-0000-0000-00000000000' || n)::uuid,
       'b0000000-0000-0000-0000-00000000000' || n || '/receipt.jpg', 'image/jpeg', 123456, 'parsed'
FROM generate_series(1, 3) AS n;

INSERT INTO public.receipt_items (receipt_id, item_id, raw_name, line_number)
SELECT ('d0000000-0000-0000-0000-00000000000' || n)::uuid, ('c0000000-0000-0000-0000-00000000000' || n)::uuid, 'MLK 2% 1GAL', 1
FROM generate_series(1, 3) AS n;

INSERT INTO public.events (household_id, event_type, source, item_id, receipt_id)
SELECT ('b0000000-0000-0000-0000-00000000000' || n)::uuid, 'receipt.confirmed', 'receipt',
       ('c0000000-0000-0000-0000-00000000000' || n)::uuid, ('d0000000-0000-0000-0000-00000000000' || n)::uuid
FROM generate_series(1, 3) AS n;

-- predicted_at two days ago, so that mark_stale_predictions() has work.
INSERT INTO public.predictions (household_id, item_id, predicted_state, confidence, model_version, predicted_at)
SELECT ('b0000000-0000-0000-0000-00000000000' || n)::uuid, ('c0000000-0000-0000-0000-00000000000' || n)::uuid,
       'almost_out', 0.75, 'rules-v1', now() - interval '2 days'
FROM generate_series(1, 3) AS n;

INSERT INTO public.restock_list (household_id, item_id, urgency, reason)
SELECT ('b0000000-0000-0000-0000-00000000000' || n)::uuid, ('c0000000-0000-0000-0000-00000000000' || n)::uuid,
       'need_soon', 'Predicted low in 2 days'
FROM generate_series(1, 3) AS n;

INSERT INTO public.invitations (household_id, inviter_id, invitee_email, token, expires_at)
SELECT ('b0000000-0000-0000-0000-00000000000' || n)::uuid,
       CASE n WHEN 1 THEN 'a0000000-0000-0000-0000-000000000001'::uuid
              WHEN 2 THEN 'a0000000-0000-0000-0000-000000000002'::uuid
              ELSE 'a0000000-0000-0000-0000-000000000003'::uuid END,
       'friend' || n || '@example.test', 'token-' || n, now() + interval '7 days'
FROM generate_series(1, 3) AS n;

-- Which fixture row belongs to which household, taken while RLS does not
-- apply: the reference the visibility checks compare against.
-- (receipt_items has no household_id: its household is its receipt's.)
-- user_id: the member, for household_members rows.
CREATE TEMP TABLE fixture_rows (tbl text, id uuid, household_id uuid, label text, user_id uuid) ON COMMIT DROP;
INSERT INTO fixture_rows (tbl, id, household_id, label, user_id)
          SELECT 'households', id, id, NULL, NULL FROM public.households
UNION ALL SELECT 'household_members', id, household_id, NULL, user_id FROM public.household_members
UNION ALL SELECT 'items', id, household_id, CASE WHEN name = 'Milk' THEN 'main' ELSE 'spare' END, NULL FROM public.items
UNION ALL SELECT 'inventory', id, household_id, NULL, NULL FROM public.inventory
UNION ALL SELECT 'events', id, household_id, NULL, NULL FROM public.events
UNION ALL SELECT 'receipts', id, household_id, NULL, NULL FROM public.receipts
UNION ALL SELECT 'receipt_items', ri.id, r.household_id, NULL, NULL FROM public.receipt_items AS ri JOIN public.receipts AS r ON r.id = ri.receipt_id
UNION ALL SELECT 'predictions', id, household_id, NULL, NULL FROM public.predictions
UNION ALL SELECT 'restock_list', id, household_id, NULL, NULL FROM public.restock_list
UNION ALL SELECT 'invitations', id, household_id, NULL, NULL FROM public.invitations;
GRANT SELECT ON fixture_rows TO authenticated;

-- ===========================================================================
-- Test helpers (temporary functions, gone with the transaction)
-- ===========================================================================
-- They are SECURITY INVOKER: called after SET ROLE authenticated, every
-- statement inside them runs as authenticated, under RLS.
-- Statements take up to four parameters $1..$4 (unused ones are ignored).

-- The statement must be refused. By default only "refused by RLS or the
-- privileges" (insufficient_privilege) or by a CHECK (check_violation)
-- counts; success, or any other error, is a failure.
CREATE FUNCTION pg_temp.expect_denied(who text, what text, stmt text,
                                      p1 uuid DEFAULT NULL, p2 uuid DEFAULT NULL,
                                      p3 uuid DEFAULT NULL, p4 uuid DEFAULT NULL,
                                      accepted text[] DEFAULT ARRAY['42501', '23514'])
    RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    refused boolean := false;
    state text;
    message text;
BEGIN
    BEGIN
        EXECUTE stmt USING p1, p2, p3, p4;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
        IF state = ANY (accepted) THEN
            refused := true;
        ELSE
            RAISE EXCEPTION 'failed: % %: expected a refusal (SQLSTATE %), got error % (%)',
                who, what, array_to_string(accepted, ' or '), state, message;
        END IF;
    END;
    IF NOT refused THEN
        RAISE EXCEPTION 'leak: % succeeded: %', who, what;
    END IF;
END
$fn$;

-- The statement must affect exactly `expected` rows. With or_denied, a
-- permission error counts as 0 rows (events: no UPDATE/DELETE privilege).
-- With undo, the statement's effects are rolled back once counted (a
-- subtransaction ended by a private error code; PL/pgSQL variables survive).
CREATE FUNCTION pg_temp.expect_rows(who text, what text, expected bigint, stmt text,
                                    p1 uuid DEFAULT NULL, p2 uuid DEFAULT NULL,
                                    p3 uuid DEFAULT NULL, p4 uuid DEFAULT NULL,
                                    or_denied boolean DEFAULT false, undo boolean DEFAULT false)
    RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    affected bigint;
    state text;
    message text;
BEGIN
    BEGIN
        EXECUTE stmt USING p1, p2, p3, p4;
        GET DIAGNOSTICS affected = ROW_COUNT;
        IF undo THEN
            RAISE EXCEPTION 'undo' USING ERRCODE = 'KU001';
        END IF;
    EXCEPTION
    WHEN SQLSTATE 'KU001' THEN
        NULL;
    WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
        IF or_denied AND expected = 0 AND state = '42501' THEN
            affected := 0;
        ELSE
            RAISE EXCEPTION 'failed: % % (expected % row(s)): error % (%)', who, what, expected, state, message;
        END IF;
    END;
    IF affected <> expected THEN
        RAISE EXCEPTION '%: % % affected % row(s), expected %',
            CASE WHEN affected > expected THEN 'leak' ELSE 'wrong' END, who, what, affected, expected;
    END IF;
END
$fn$;

-- The tables of the model, each with the expression giving a row's household.
CREATE FUNCTION pg_temp.tenant_tables() RETURNS text[] LANGUAGE sql IMMUTABLE AS $fn$
    SELECT ARRAY['households', 'household_members', 'items', 'inventory', 'events', 'receipts',
                 'receipt_items', 'predictions', 'restock_list', 'invitations']
$fn$;

-- The caller sees exactly the fixture rows of the households in `own`, in
-- every table: nothing of any other household, nothing of theirs missing.
CREATE FUNCTION pg_temp.assert_sees_exactly(who text, own uuid[]) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    t text;
    leaked bigint;
    missing bigint;
BEGIN
    FOREACH t IN ARRAY pg_temp.tenant_tables() LOOP
        EXECUTE format($q$
            SELECT (SELECT count(*) FROM (SELECT id FROM public.%1$I
                                          EXCEPT SELECT id FROM pg_temp.fixture_rows WHERE tbl = %1$L AND household_id = ANY ($1)) AS l),
                   (SELECT count(*) FROM (SELECT id FROM pg_temp.fixture_rows WHERE tbl = %1$L AND household_id = ANY ($1)
                                          EXCEPT SELECT id FROM public.%1$I) AS m)
            $q$, t)
            INTO leaked, missing USING own;
        IF leaked > 0 THEN
            RAISE EXCEPTION 'leak: % sees % row(s) of % belonging to a household they are not a member of (rule: only members read)',
                who, leaked, t;
        END IF;
        IF missing > 0 THEN
            RAISE EXCEPTION 'wrong: % cannot see % row(s) of % in their own households (rule: members read)',
                who, missing, t;
        END IF;
    END LOOP;
END
$fn$;

-- The caller (not a member of `victim`) can neither add, change, delete
-- nor move rows into any table of household `victim`.
CREATE FUNCTION pg_temp.assert_cannot_touch(who text, victim uuid) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    v  text := format('household %s', right(victim::text, 1));
    me uuid := auth.uid();
    victim_spare_item uuid := (SELECT id FROM pg_temp.fixture_rows WHERE tbl = 'items' AND household_id = victim AND label = 'spare');
    victim_receipt    uuid := (SELECT id FROM pg_temp.fixture_rows WHERE tbl = 'receipts' AND household_id = victim);
    t text;
BEGIN
    -- Inserting into the other household: refused by WITH CHECK.
    PERFORM pg_temp.expect_denied(who, 'household_members insert: themself as admin of ' || v,
        $s$INSERT INTO public.household_members (household_id, user_id, role) VALUES ($1, $2, 'admin')$s$, victim, me);
    PERFORM pg_temp.expect_denied(who, 'household_members insert: themself as member of ' || v,
        $s$INSERT INTO public.household_members (household_id, user_id, role) VALUES ($1, $2, 'member')$s$, victim, me);
    PERFORM pg_temp.expect_denied(who, 'items insert into ' || v,
        $s$INSERT INTO public.items (household_id, name, category, location) VALUES ($1, 'leak', 'other', 'fridge')$s$, victim);
    PERFORM pg_temp.expect_denied(who, 'inventory insert into ' || v,
        $s$INSERT INTO public.inventory (household_id, item_id, state) VALUES ($1, $2, 'ok')$s$, victim, victim_spare_item);
    PERFORM pg_temp.expect_denied(who, 'events insert into ' || v,
        $s$INSERT INTO public.events (household_id, event_type, source) VALUES ($1, 'inventory.used', 'user')$s$, victim);
    PERFORM pg_temp.expect_denied(who, 'receipts insert into ' || v,
        $s$INSERT INTO public.receipts (household_id, file_path, file_type, file_size_bytes) VALUES ($1, 'leak.png', 'image/png', 1)$s$, victim);
    PERFORM pg_temp.expect_denied(who, 'receipt_items insert into a receipt of ' || v,
        $s$INSERT INTO public.receipt_items (receipt_id, raw_name) VALUES ($1, 'leak')$s$, victim_receipt);
    PERFORM pg_temp.expect_denied(who, 'predictions insert into ' || v,
        $s$INSERT INTO public.predictions (household_id, item_id, predicted_state, confidence, model_version) VALUES ($1, $2, 'low', 0.5, 'leak')$s$,
        victim, victim_spare_item);
    PERFORM pg_temp.expect_denied(who, 'restock_list insert into ' || v,
        $s$INSERT INTO public.restock_list (household_id, item_id, urgency, reason) VALUES ($1, $2, 'need_now', 'leak')$s$, victim, victim_spare_item);
    PERFORM pg_temp.expect_denied(who, 'invitations insert into ' || v,
        $s$INSERT INTO public.invitations (household_id, inviter_id, invitee_email, token, expires_at)
           VALUES ($1, $2, 'leak@example.test', gen_random_uuid()::text, now() + interval '7 days')$s$, victim, me);

    -- Updating and deleting the other household's rows: they are invisible,
    -- so 0 rows (events: no UPDATE/DELETE privilege at all, also fine).
    FOREACH t IN ARRAY pg_temp.tenant_tables() LOOP
        PERFORM pg_temp.expect_rows(who, format('%s update in %s', t, v), 0,
            format('UPDATE public.%I SET %s WHERE %s',
                   t,
                   CASE t WHEN 'events' THEN 'payload = payload' ELSE 'updated_at = now()' END,
                   CASE t WHEN 'households' THEN 'id = $1'
                          WHEN 'receipt_items' THEN 'receipt_id = $2'
                          ELSE 'household_id = $1' END),
            victim, victim_receipt, or_denied => t = 'events');
        PERFORM pg_temp.expect_rows(who, format('%s delete in %s', t, v), 0,
            format('DELETE FROM public.%I WHERE %s',
                   t,
                   CASE t WHEN 'households' THEN 'id = $1'
                          WHEN 'receipt_items' THEN 'receipt_id = $2'
                          ELSE 'household_id = $1' END),
            victim, victim_receipt, or_denied => t = 'events');
    END LOOP;

    -- Moving their own rows into the other household: refused by WITH CHECK.
    -- No WHERE clause (every row the UPDATE policy lets them touch), so that
    -- PostgreSQL does not also apply the SELECT policy to the new rows: this
    -- measures WITH CHECK alone. Receipt lines are unmapped on the way, so
    -- that the same-household trigger does not answer before RLS does.
    FOREACH t IN ARRAY pg_temp.tenant_tables() LOOP
        CONTINUE WHEN t IN ('households', 'events');  -- no household_id / no UPDATE at all
        IF t = 'receipt_items' THEN
            PERFORM pg_temp.expect_denied(who, 'receipt_items move of their lines to a receipt of ' || v,
                'UPDATE public.receipt_items SET receipt_id = $1, item_id = NULL, user_selected_item_id = NULL',
                victim_receipt);
        ELSE
            PERFORM pg_temp.expect_denied(who, format('%s move of their rows into %s', t, v),
                format('UPDATE public.%I SET household_id = $1', t), victim);
        END IF;
    END LOOP;
END
$fn$;

-- Exactly which rows the caller's UPDATE and DELETE policies reach, in
-- every table: `member_of` and `admin_of` are the caller's households.
-- The statements have no WHERE clause and a constant SET, because then
-- PostgreSQL applies the UPDATE or DELETE policy alone (with a WHERE that
-- reads the table, the SELECT policy filters too and would hide a too
-- permissive UPDATE or DELETE policy). Every statement is undone.
CREATE FUNCTION pg_temp.assert_write_scope(who text, member_of uuid[], admin_of uuid[]) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    me uuid := auth.uid();
    t text;
    admins_only boolean;
BEGIN
    FOREACH t IN ARRAY pg_temp.tenant_tables() LOOP
        IF t = 'events' THEN
            PERFORM pg_temp.expect_rows(who, 'events update of every row it can reach (rule: append-only)', 0,
                'UPDATE public.events SET payload = ''{}''', or_denied => true, undo => true);
            PERFORM pg_temp.expect_rows(who, 'events delete of every row it can reach (rule: append-only)', 0,
                'DELETE FROM public.events', or_denied => true, undo => true);
            CONTINUE;
        END IF;
        admins_only := t IN ('households', 'household_members', 'invitations');
        PERFORM pg_temp.expect_rows(who,
            format('%s update of every row it can reach (rule: %s change)', t, CASE WHEN admins_only THEN 'only admins' ELSE 'members' END),
            (SELECT count(*) FROM pg_temp.fixture_rows
              WHERE tbl = t AND household_id = ANY (CASE WHEN admins_only THEN admin_of ELSE member_of END)),
            format('UPDATE public.%I SET updated_at = now()', t), undo => true);
        PERFORM pg_temp.expect_rows(who,
            format('%s delete of every row it can reach (rule: only admins delete%s)', t,
                   CASE WHEN t = 'household_members' THEN ', and users leave' ELSE '' END),
            (SELECT count(*) FROM pg_temp.fixture_rows
              WHERE tbl = t AND (household_id = ANY (admin_of) OR (t = 'household_members' AND user_id = me))),
            format('DELETE FROM public.%I', t), undo => true);
    END LOOP;
END
$fn$;

-- A member who is not an admin of `hh` cannot do what only admins may:
-- delete rows (every table but events), change the household, its
-- memberships or its invitations, invite anyone.
CREATE FUNCTION pg_temp.assert_member_limits(who text, hh uuid) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    h  text := format('household %s', right(hh::text, 1));
    me uuid := auth.uid();
    t  text;
BEGIN
    FOREACH t IN ARRAY pg_temp.tenant_tables() LOOP
        CONTINUE WHEN t = 'events';  -- nobody deletes events; checked separately
        PERFORM pg_temp.expect_rows(who, format('(member) %s delete in %s', t, h), 0,
            format('DELETE FROM public.%I WHERE %s',
                   t,
                   CASE t WHEN 'households' THEN 'id = $1'
                          WHEN 'receipt_items' THEN 'receipt_id IN (SELECT id FROM pg_temp.fixture_rows WHERE tbl = ''receipts'' AND household_id = $1)'
                          -- their own membership they may delete: that is leaving (part 5)
                          WHEN 'household_members' THEN 'household_id = $1 AND user_id <> $2'
                          ELSE 'household_id = $1' END),
            hh, me);
    END LOOP;
    PERFORM pg_temp.expect_rows(who, '(member) households update of ' || h, 0,
        'UPDATE public.households SET name = name || '' (renamed)'' WHERE id = $1', hh);
    PERFORM pg_temp.expect_rows(who, '(member) household_members update: promote themself to admin in ' || h, 0,
        $s$UPDATE public.household_members SET role = 'admin' WHERE household_id = $1 AND user_id = $2$s$, hh, me);
    PERFORM pg_temp.expect_rows(who, '(member) invitations update in ' || h, 0,
        $s$UPDATE public.invitations SET status = 'expired' WHERE household_id = $1$s$, hh);
    PERFORM pg_temp.expect_denied(who, '(member) invitations insert into ' || h,
        $s$INSERT INTO public.invitations (household_id, inviter_id, invitee_email, token, expires_at)
           VALUES ($1, $2, 'x@example.test', gen_random_uuid()::text, now() + interval '7 days')$s$, hh, me);
    PERFORM pg_temp.expect_denied(who, '(member) household_members insert of a new member into ' || h,
        $s$INSERT INTO public.household_members (household_id, user_id, role)
           VALUES ($1, 'a0000000-0000-0000-0000-000000000003', 'member')$s$, hh);
END
$fn$;

-- ===========================================================================
-- 1. Reading: each user sees exactly their households' rows in every table
-- ===========================================================================

SET LOCAL ROLE authenticated;

-- (The helpers raise on failure; these SELECTs return nothing of interest.)

SELECT set_config('request.jwt.claim.sub', 'a0000000-0000-0000-0000-000000000001', true);
SELECT pg_temp.assert_sees_exactly('user 1 (admin of household 1)',
    ARRAY['b0000000-0000-0000-0000-000000000001']::uuid[]);

SELECT set_config('request.jwt.claim.sub', 'a0000000-0000-0000-0000-000000000002', true);
SELECT pg_temp.assert_sees_exactly('user 2 (member of household 1, admin of household 2)',
    ARRAY['b0000000-0000-0000-0000-000000000001', 'b0000000-0000-0000-0000-000000000002']::uuid[]);

SELECT set_config('request.jwt.claim.sub', 'a0000000-0000-0000-0000-000000000003', true);
SELECT pg_temp.assert_sees_exactly('user 3 (admin of household 3)',
    ARRAY['b0000000-0000-0000-0000-000000000003']::uuid[]);

-- Signed in as role authenticated but with no user id (claim missing or
-- empty): auth.uid() is NULL, which matches nothing.
SELECT set_config('request.jwt.claim.sub', '', true);
SELECT pg_temp.assert_sees_exactly('authenticated without a user id', ARRAY[]::uuid[]);
SELECT pg_temp.assert_write_scope('authenticated without a user id', ARRAY[]::uuid[], ARRAY[]::uuid[]);
SELECT pg_temp.expect_denied('authenticated without a user id', 'households insert',
    $s$INSERT INTO public.households (name) VALUES ('nobody''s')$s$);

-- anon: no privilege on any sNAKr table, and no policy applies to it.
RESET ROLE;
SET LOCAL ROLE anon;
SELECT set_config('request.jwt.claim.sub', 'a0000000-0000-0000-0000-000000000001', true);
DO $$
DECLARE
    t text;
    n bigint;
    state text;
BEGIN
    FOREACH t IN ARRAY ARRAY['households', 'household_members', 'items', 'inventory', 'events', 'receipts',
                             'receipt_items', 'predictions', 'restock_list', 'invitations'] LOOP
        n := 0;
        BEGIN
            EXECUTE format('SELECT count(*) FROM public.%I', t) INTO n;
        EXCEPTION WHEN insufficient_privilege THEN
            n := 0;
        END;
        IF n > 0 THEN
            RAISE EXCEPTION 'leak: anon (with a user 1 id in the claim) sees % row(s) of % (rule: anon sees nothing)', n, t;
        END IF;
    END LOOP;
    BEGIN
        INSERT INTO public.households (name) VALUES ('anon''s');
        RAISE EXCEPTION 'leak: anon could insert into households (rule: anon sees nothing)';
    EXCEPTION WHEN insufficient_privilege THEN
        NULL;
    END;
    BEGIN
        PERFORM public.user_household_ids();
        RAISE EXCEPTION 'leak: anon could call user_household_ids() (rule: helpers are for authenticated only)';
    EXCEPTION WHEN insufficient_privilege THEN
        NULL;
    END;
END
$$;
RESET ROLE;

-- ===========================================================================
-- 2. Writing into other households: refused or 0 rows, in every table
-- ===========================================================================

SET LOCAL ROLE authenticated;

SELECT set_config('request.jwt.claim.sub', 'a0000000-0000-0000-0000-000000000001', true);
SELECT pg_temp.assert_write_scope('user 1 (admin of household 1)',
    member_of => ARRAY['b0000000-0000-0000-0000-000000000001']::uuid[],
    admin_of  => ARRAY['b0000000-0000-0000-0000-000000000001']::uuid[]);
SELECT pg_temp.assert_cannot_touch('user 1 (admin of household 1)', 'b0000000-0000-0000-0000-000000000002');
SELECT pg_temp.assert_cannot_touch('user 1 (admin of household 1)', 'b0000000-0000-0000-0000-000000000003');
-- A household must be created by the caller, not in someone else's name.
SELECT pg_temp.expect_denied('user 1 (admin of household 1)', 'households insert created_by user 3',
    $s$INSERT INTO public.households (name, created_by) VALUES ('fake', 'a0000000-0000-0000-0000-000000000003')$s$);
-- An admin invites as themself only.
SELECT pg_temp.expect_denied('user 1 (admin of household 1)', 'invitations insert in household 1 with inviter_id = user 2',
    $s$INSERT INTO public.invitations (household_id, inviter_id, invitee_email, token, expires_at)
       VALUES ('b0000000-0000-0000-0000-000000000001', 'a0000000-0000-0000-0000-000000000002',
               'x@example.test', 'forged', now() + interval '7 days')$s$);

SELECT set_config('request.jwt.claim.sub', 'a0000000-0000-0000-0000-000000000002', true);
SELECT pg_temp.assert_write_scope('user 2 (member of household 1, admin of household 2)',
    member_of => ARRAY['b0000000-0000-0000-0000-000000000001', 'b0000000-0000-0000-0000-000000000002']::uuid[],
    admin_of  => ARRAY['b0000000-0000-0000-0000-000000000002']::uuid[]);
SELECT pg_temp.assert_cannot_touch('user 2 (member of household 1, admin of household 2)', 'b0000000-0000-0000-0000-000000000003');
-- A member, not an admin, of household 1.
SELECT pg_temp.assert_member_limits('user 2 (member of household 1)', 'b0000000-0000-0000-0000-000000000001');
SELECT pg_temp.expect_rows('user 2 (member of household 1)', 'household_members delete of user 1''s membership in household 1', 0,
    $s$DELETE FROM public.household_members
       WHERE household_id = 'b0000000-0000-0000-0000-000000000001' AND user_id = 'a0000000-0000-0000-0000-000000000001'$s$);
-- user 2 belongs to households 1 and 2 and can see both; still, a row of
-- one household can never point at an item or receipt of the other
-- (composite foreign keys, and the receipt_items trigger).
SELECT pg_temp.expect_denied('user 2 (member of households 1 and 2)', 'inventory in household 1 for an item of household 2',
    $s$INSERT INTO public.inventory (household_id, item_id, state)
       VALUES ('b0000000-0000-0000-0000-000000000001', 'c0000000-0000-0000-0000-000000000012', 'ok')$s$,
    accepted => ARRAY['23503']);
SELECT pg_temp.expect_denied('user 2 (member of households 1 and 2)', 'events in household 1 about a receipt of household 2',
    $s$INSERT INTO public.events (household_id, event_type, source, receipt_id)
       VALUES ('b0000000-0000-0000-0000-000000000001', 'receipt.ingested', 'receipt', 'd0000000-0000-0000-0000-000000000002')$s$,
    accepted => ARRAY['23503']);
SELECT pg_temp.expect_denied('user 2 (member of households 1 and 2)', 'receipt line of household 1 mapped to an item of household 2',
    $s$UPDATE public.receipt_items SET item_id = 'c0000000-0000-0000-0000-000000000012'
       WHERE receipt_id = 'd0000000-0000-0000-0000-000000000001'$s$,
    accepted => ARRAY['23503']);

SELECT set_config('request.jwt.claim.sub', 'a0000000-0000-0000-0000-000000000003', true);
SELECT pg_temp.assert_write_scope('user 3 (admin of household 3)',
    member_of => ARRAY['b0000000-0000-0000-0000-000000000003']::uuid[],
    admin_of  => ARRAY['b0000000-0000-0000-0000-000000000003']::uuid[]);
SELECT pg_temp.assert_cannot_touch('user 3 (admin of household 3)', 'b0000000-0000-0000-0000-000000000001');
SELECT pg_temp.assert_cannot_touch('user 3 (admin of household 3)', 'b0000000-0000-0000-0000-000000000002');
-- A receipt line may not be mapped to an item the caller cannot even see.
SELECT pg_temp.expect_denied('user 3 (admin of household 3)', 'receipt line of household 3 mapped to an item of household 1',
    $s$UPDATE public.receipt_items SET item_id = 'c0000000-0000-0000-0000-000000000001'
       WHERE receipt_id = 'd0000000-0000-0000-0000-000000000003'$s$,
    accepted => ARRAY['23503']);

-- ===========================================================================
-- 3. The functions respect the same boundaries
-- ===========================================================================

SELECT set_config('request.jwt.claim.sub', 'a0000000-0000-0000-0000-000000000003', true);
DO $$
DECLARE
    who constant text := 'user 3 (admin of household 3)';
    marked integer;
BEGIN
    IF public.dismiss_restock_item('c0000000-0000-0000-0000-000000000001', 7) THEN
        RAISE EXCEPTION 'leak: % dismissed the restock entry of an item of household 1 (rule: members change)', who;
    END IF;
    IF public.undismiss_restock_item('c0000000-0000-0000-0000-000000000001') THEN
        RAISE EXCEPTION 'leak: % undid a dismissal in household 1 (rule: members change)', who;
    END IF;
    -- All three predictions are two days old; user 3 may only mark theirs.
    marked := public.mark_stale_predictions();
    IF marked <> 1 THEN
        RAISE EXCEPTION '%: % marked % prediction(s) stale, expected 1 (only household 3''s)',
            CASE WHEN marked > 1 THEN 'leak' ELSE 'wrong' END, who, marked;
    END IF;
END
$$;

SELECT set_config('request.jwt.claim.sub', 'a0000000-0000-0000-0000-000000000001', true);
DO $$
DECLARE
    who constant text := 'user 1 (admin of household 1)';
    marked integer;
BEGIN
    IF NOT public.dismiss_restock_item('c0000000-0000-0000-0000-000000000001', 14) THEN
        RAISE EXCEPTION 'wrong: % could not dismiss the restock entry of their own item', who;
    END IF;
    IF NOT public.undismiss_restock_item('c0000000-0000-0000-0000-000000000001') THEN
        RAISE EXCEPTION 'wrong: % could not undo their own dismissal', who;
    END IF;
    IF public.undismiss_restock_item('c0000000-0000-0000-0000-000000000001') THEN
        RAISE EXCEPTION 'wrong: undoing a dismissal twice reported a change the second time (%)', who;
    END IF;
    BEGIN
        PERFORM public.dismiss_restock_item('c0000000-0000-0000-0000-000000000001', 5);
        RAISE EXCEPTION 'wrong: dismissal for 5 days was accepted (only 3, 7, 14 or 30)';
    EXCEPTION WHEN invalid_parameter_value THEN
        NULL;
    END;
    BEGIN
        PERFORM public.dismiss_restock_item('c0000000-0000-0000-0000-000000000001', NULL);
        RAISE EXCEPTION 'wrong: dismissal for NULL days was accepted (only 3, 7, 14 or 30)';
    EXCEPTION WHEN invalid_parameter_value THEN
        NULL;
    END;
    marked := public.mark_stale_predictions();
    IF marked <> 1 THEN
        RAISE EXCEPTION '%: % marked % prediction(s) stale, expected 1 (only household 1''s)',
            CASE WHEN marked > 1 THEN 'leak' ELSE 'wrong' END, who, marked;
    END IF;
END
$$;

-- ===========================================================================
-- 4. What members and admins may do in their own households
-- ===========================================================================

-- Members read, add and change; they append events but never change them.
SELECT set_config('request.jwt.claim.sub', 'a0000000-0000-0000-0000-000000000002', true);
SELECT pg_temp.expect_rows('user 2 (member of household 1)', 'items insert into household 1', 1,
    $s$INSERT INTO public.items (household_id, name, category, location) VALUES ($1, 'Eggs', 'dairy', 'fridge')$s$, 'b0000000-0000-0000-0000-000000000001');
SELECT pg_temp.expect_rows('user 2 (member of household 1)', 'events insert into household 1', 1,
    $s$INSERT INTO public.events (household_id, event_type, source, item_id)
       VALUES ($1, 'inventory.used', 'user', 'c0000000-0000-0000-0000-000000000001')$s$, 'b0000000-0000-0000-0000-000000000001');
SELECT pg_temp.expect_rows('user 2 (member of household 1)', 'inventory update in household 1', 1,
    $s$UPDATE public.inventory SET state = 'out' WHERE household_id = $1$s$, 'b0000000-0000-0000-0000-000000000001');
SELECT pg_temp.expect_rows('user 2 (member of household 1)', 'receipt_items update in household 1', 1,
    $s$UPDATE public.receipt_items SET status = 'confirmed' WHERE receipt_id = 'd0000000-0000-0000-0000-000000000001'$s$);
SELECT pg_temp.expect_rows('user 2 (member of household 1)', 'events update in household 1 (append-only)', 0,
    'UPDATE public.events SET payload = ''{"edited": true}'' WHERE household_id = $1', 'b0000000-0000-0000-0000-000000000001', or_denied => true);

-- Admins delete; nobody deletes events.
SELECT set_config('request.jwt.claim.sub', 'a0000000-0000-0000-0000-000000000001', true);
SELECT pg_temp.expect_rows('user 1 (admin of household 1)', 'events delete in household 1 (append-only)', 0,
    'DELETE FROM public.events WHERE household_id = $1', 'b0000000-0000-0000-0000-000000000001', or_denied => true);
SELECT pg_temp.expect_rows('user 1 (admin of household 1)', 'household_members update: make user 2 admin of household 1', 1,
    $s$UPDATE public.household_members SET role = 'admin' WHERE household_id = $1 AND user_id = 'a0000000-0000-0000-0000-000000000002'$s$, 'b0000000-0000-0000-0000-000000000001');
SELECT pg_temp.expect_rows('user 1 (admin of household 1)', 'household_members update: make user 2 member again', 1,
    $s$UPDATE public.household_members SET role = 'member' WHERE household_id = $1 AND user_id = 'a0000000-0000-0000-0000-000000000002'$s$, 'b0000000-0000-0000-0000-000000000001');
SELECT pg_temp.expect_rows('user 1 (admin of household 1)', 'invitations update in household 1', 1,
    $s$UPDATE public.invitations SET status = 'expired' WHERE household_id = $1$s$, 'b0000000-0000-0000-0000-000000000001');
SELECT pg_temp.expect_rows('user 1 (admin of household 1)', 'receipt_items delete in household 1', 1,
    $s$DELETE FROM public.receipt_items WHERE receipt_id = 'd0000000-0000-0000-0000-000000000001'$s$);
SELECT pg_temp.expect_rows('user 1 (admin of household 1)', 'inventory delete in household 1', 1,
    'DELETE FROM public.inventory WHERE household_id = $1', 'b0000000-0000-0000-0000-000000000001');
SELECT pg_temp.expect_rows('user 1 (admin of household 1)', 'predictions delete in household 1', 1,
    'DELETE FROM public.predictions WHERE household_id = $1', 'b0000000-0000-0000-0000-000000000001');
SELECT pg_temp.expect_rows('user 1 (admin of household 1)', 'restock_list delete in household 1', 1,
    'DELETE FROM public.restock_list WHERE household_id = $1', 'b0000000-0000-0000-0000-000000000001');
SELECT pg_temp.expect_rows('user 1 (admin of household 1)', 'invitations delete in household 1', 1,
    'DELETE FROM public.invitations WHERE household_id = $1', 'b0000000-0000-0000-0000-000000000001');
SELECT pg_temp.expect_rows('user 1 (admin of household 1)', 'receipts delete in household 1', 1,
    'DELETE FROM public.receipts WHERE household_id = $1', 'b0000000-0000-0000-0000-000000000001');
SELECT pg_temp.expect_rows('user 1 (admin of household 1)', 'items delete (the spare item) in household 1', 1,
    $s$DELETE FROM public.items WHERE id = 'c0000000-0000-0000-0000-000000000011'$s$);
SELECT pg_temp.expect_rows('user 1 (admin of household 1)', 'households update of household 1', 1,
    $s$UPDATE public.households SET name = 'Household one' WHERE id = $1$s$, 'b0000000-0000-0000-0000-000000000001');

-- ===========================================================================
-- 5. Membership: leaving, and becoming the first admin of a new household
-- ===========================================================================

-- Leaving: user 2 removes their own membership of household 1, and from
-- then on sees nothing of it.
SELECT set_config('request.jwt.claim.sub', 'a0000000-0000-0000-0000-000000000002', true);
DO $$
DECLARE
    who constant text := 'user 2 (member of household 1)';
    n bigint;
BEGIN
    PERFORM pg_temp.expect_rows(who, 'household_members delete of their own membership (leave household 1)', 1,
        $s$DELETE FROM public.household_members
           WHERE household_id = 'b0000000-0000-0000-0000-000000000001' AND user_id = 'a0000000-0000-0000-0000-000000000002'$s$);
    SELECT count(*) INTO n FROM public.items WHERE household_id = 'b0000000-0000-0000-0000-000000000001';
    IF n > 0 THEN
        RAISE EXCEPTION 'leak: % still sees % item(s) of household 1 after leaving it', who, n;
    END IF;
    SELECT count(*) INTO n FROM public.household_members WHERE household_id = 'b0000000-0000-0000-0000-000000000001';
    IF n > 0 THEN
        RAISE EXCEPTION 'leak: % still sees % membership(s) of household 1 after leaving it', who, n;
    END IF;
END
$$;

-- The first admin. user 3 creates a household (INSERT ... RETURNING, as
-- client libraries do), may add only themself and only as admin, and only
-- while the household has no member; nobody else may claim it.
SELECT set_config('request.jwt.claim.sub', 'a0000000-0000-0000-0000-000000000003', true);
DO $$
DECLARE
    who constant text := 'user 3 (creator of a new household)';
    u1  constant uuid := 'a0000000-0000-0000-0000-000000000001';
    u2  constant uuid := 'a0000000-0000-0000-0000-000000000002';
    u3  constant uuid := 'a0000000-0000-0000-0000-000000000003';
    new_household uuid;
BEGIN
    INSERT INTO public.households (name) VALUES ('New household') RETURNING id INTO new_household;
    IF NOT EXISTS (SELECT FROM public.households WHERE id = new_household) THEN
        RAISE EXCEPTION 'wrong: % cannot read the household they just created', who;
    END IF;

    PERFORM pg_temp.expect_denied(who, 'household_members insert: user 1 as first admin of their new household',
        $s$INSERT INTO public.household_members (household_id, user_id, role) VALUES ($1, $2, 'admin')$s$, new_household, u1);
    PERFORM pg_temp.expect_denied(who, 'household_members insert: themself as first *member* (not admin)',
        $s$INSERT INTO public.household_members (household_id, user_id, role) VALUES ($1, $2, 'member')$s$, new_household, u3);

    -- Someone else cannot claim it (even knowing its id), nor see it.
    PERFORM set_config('request.jwt.claim.sub', u2::text, true);
    PERFORM pg_temp.expect_denied('user 2 (not the creator)', 'household_members insert: themself as first admin of user 3''s new household',
        $s$INSERT INTO public.household_members (household_id, user_id, role) VALUES ($1, $2, 'admin')$s$, new_household, u2);
    IF EXISTS (SELECT FROM public.households WHERE id = new_household) THEN
        RAISE EXCEPTION 'leak: user 2 sees the new household of user 3';
    END IF;
    PERFORM set_config('request.jwt.claim.sub', u3::text, true);

    PERFORM pg_temp.expect_rows(who, 'household_members insert: themself as first admin', 1,
        $s$INSERT INTO public.household_members (household_id, user_id, role) VALUES ($1, $2, 'admin')$s$, new_household, u3);
    -- Now an admin: adds user 1 as member, then leaves. The household has a
    -- member again, so the creator's bootstrap right is gone for good.
    PERFORM pg_temp.expect_rows(who, 'household_members insert (as admin): user 1 as member', 1,
        $s$INSERT INTO public.household_members (household_id, user_id, role) VALUES ($1, $2, 'member')$s$, new_household, u1);
    PERFORM pg_temp.expect_rows(who, 'household_members delete of their own membership (leave)', 1,
        'DELETE FROM public.household_members WHERE household_id = $1 AND user_id = $2', new_household, u3);
    PERFORM pg_temp.expect_denied(who, 'household_members insert: themself as admin again after leaving a household that has members',
        $s$INSERT INTO public.household_members (household_id, user_id, role) VALUES ($1, $2, 'admin')$s$, new_household, u3);
    IF EXISTS (SELECT FROM public.households WHERE id = new_household) THEN
        RAISE EXCEPTION 'leak: % still sees the household they created and left, which now has other members', who;
    END IF;
END
$$;

-- Finally an admin deletes a whole household; a member of it could not
-- (checked in part 2).
SELECT set_config('request.jwt.claim.sub', 'a0000000-0000-0000-0000-000000000002', true);
SELECT pg_temp.expect_rows('user 2 (admin of household 2)', 'households delete of household 2', 1,
    $s$DELETE FROM public.households WHERE id = 'b0000000-0000-0000-0000-000000000002'$s$);

RESET ROLE;
