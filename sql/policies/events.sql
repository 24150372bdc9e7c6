-- keel:checksum sha256:9f279ec42bfddb400e2d7c4997ef2b5974d42a3b8198d9134fd0f958666a048c
-- keel:requires 0007
-- keel:message RLS for events: members read and append; nobody updates or deletes
--
-- Applies from 0007, which creates the table. The log is append-only:
-- there is deliberately no UPDATE or DELETE policy (with RLS on, no policy
-- means no row), and 0007 grants authenticated only SELECT and INSERT.
-- See households.sql for the conventions shared by every policy file.

ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;

CREATE POLICY events_select_member ON events
    FOR SELECT TO authenticated
    USING (household_id IN (SELECT public.user_household_ids()));
COMMENT ON POLICY events_select_member ON events IS
    'Members of a household can read its events.';

CREATE POLICY events_insert_member ON events
    FOR INSERT TO authenticated
    WITH CHECK (household_id IN (SELECT public.user_household_ids()));
COMMENT ON POLICY events_insert_member ON events IS
    'Members of a household can append events to it, and only to it. Events are never updated or deleted.';
