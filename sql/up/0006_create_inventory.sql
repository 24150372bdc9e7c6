-- keel:checksum sha256:4db1c3c6d55b6e948d28c851fa92ef26d52aaa62425672f9c918a519241d8523
-- keel:message inventory: the current state of each item (one row per item)

CREATE TABLE public.inventory (
    id            uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    household_id  uuid         NOT NULL REFERENCES public.households (id) ON DELETE CASCADE,
    item_id       uuid         NOT NULL,
    state         text         NOT NULL
                               CONSTRAINT inventory_state_check CHECK (state IN ('plenty', 'ok', 'low', 'almost_out', 'out')),
    -- Optional; two decimals between 0 and 1.
    confidence    numeric(3,2) CONSTRAINT inventory_confidence_check CHECK (confidence BETWEEN 0 AND 1),
    last_event_at timestamptz,
    created_at    timestamptz  NOT NULL DEFAULT now(),
    updated_at    timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT inventory_item_id_key UNIQUE (item_id),
    -- The item must belong to the same household (see items_id_household_key).
    CONSTRAINT inventory_item_fkey FOREIGN KEY (item_id, household_id)
        REFERENCES public.items (id, household_id) ON DELETE CASCADE
);

-- The main inventory screen: a household's items by state ("what is low?").
-- Leads with household_id, so it is also the tenant-column index.
CREATE INDEX inventory_household_state_idx ON public.inventory (household_id, state);

CREATE TRIGGER inventory_set_updated_at
    BEFORE UPDATE ON public.inventory
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- See 0003 for why privileges start from nothing.
REVOKE ALL ON TABLE public.inventory FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.inventory TO authenticated;

COMMENT ON TABLE public.inventory IS
    'Current fuzzy state (plenty, ok, low, almost_out, out) of each item';
