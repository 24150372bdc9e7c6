-- keel:checksum sha256:e1ba7305db85c1a6b94744a2983b0eddb305055326cf9495d3a899237e77eebe
-- keel:message invitations: invite someone to a household by e-mail

CREATE TABLE public.invitations (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    household_id  uuid        NOT NULL REFERENCES public.households (id) ON DELETE CASCADE,
    -- The model gives no delete action; CASCADE as in the original: an
    -- invitation from a deleted account should not stay usable.
    inviter_id    uuid        NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    -- A plausible address (something@domain.tld), not a proof it exists.
    invitee_email text        NOT NULL
                              CONSTRAINT invitations_invitee_email_check
                              CHECK (invitee_email ~* '^[A-Z0-9._%+-]+@[A-Z0-9.-]+\.[A-Z]{2,}$'),
    role          text        NOT NULL DEFAULT 'member'
                              CONSTRAINT invitations_role_check CHECK (role IN ('admin', 'member')),
    status        text        NOT NULL DEFAULT 'pending'
                              CONSTRAINT invitations_status_check CHECK (status IN ('pending', 'accepted', 'declined', 'expired')),
    -- The secret in the invitation link.
    token         text        NOT NULL CONSTRAINT invitations_token_key UNIQUE,
    expires_at    timestamptz NOT NULL,
    accepted_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT invitations_expires_after_created_check CHECK (expires_at > created_at)
);

-- A household's invitations by status. Leads with household_id, so it is
-- also the tenant-column index.
CREATE INDEX invitations_household_status_idx ON public.invitations (household_id, status);

-- "Does this address have a pending invitation?" at sign-up. Partial: only
-- pending invitations are ever looked up by address. lower() because
-- addresses are compared case-insensitively.
CREATE INDEX invitations_pending_email_idx ON public.invitations (lower(invitee_email))
    WHERE status = 'pending';

-- The ON DELETE CASCADE from auth.users.
CREATE INDEX invitations_inviter_id_idx ON public.invitations (inviter_id);

CREATE TRIGGER invitations_set_updated_at
    BEFORE UPDATE ON public.invitations
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- See 0003 for why privileges start from nothing.
REVOKE ALL ON TABLE public.invitations FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.invitations TO authenticated;

COMMENT ON TABLE public.invitations IS
    'Invitations to join a household, sent by e-mail with a unique token';
