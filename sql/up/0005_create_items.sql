-- keel:checksum sha256:a4a1536fd714fbc3e38e24b3b8a7e0414570dfa8da59458833e2bee94f6c613e
-- keel:message items: the per-household catalog of things people keep

CREATE TABLE public.items (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    household_id uuid        NOT NULL REFERENCES public.households (id) ON DELETE CASCADE,
    name         text        NOT NULL,
    category     text        NOT NULL
                             CONSTRAINT items_category_check CHECK (category IN (
                                 'dairy', 'produce', 'meat', 'bakery', 'pantry_staple',
                                 'beverage', 'snack', 'condiment', 'other')),
    location     text        NOT NULL
                             CONSTRAINT items_location_check CHECK (location IN ('fridge', 'pantry', 'freezer')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    -- A name means one thing within a household. The index leads with
    -- household_id, so it is also the tenant-column index (and serves the
    -- alphabetical catalog list).
    CONSTRAINT items_household_name_key UNIQUE (household_id, name),
    -- Redundant as a uniqueness rule (id alone is unique) but it is what lets
    -- inventory, events, predictions and restock_list reference
    -- (item_id, household_id) together: a row can then never point at an
    -- item of another household, whatever the policies say (foreign-key
    -- checks do not go through RLS).
    CONSTRAINT items_id_household_key UNIQUE (id, household_id)
);

-- The fridge / pantry / freezer list screens.
CREATE INDEX items_household_location_idx ON public.items (household_id, location);

-- Fuzzy search on names (similarity, ILIKE '%milk%') when receipt lines are
-- matched to catalog items. gin_trgm_ops comes from pg_trgm (migration 0002).
CREATE INDEX items_name_trgm_idx ON public.items USING gin (name gin_trgm_ops);

CREATE TRIGGER items_set_updated_at
    BEFORE UPDATE ON public.items
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- See 0003 for why privileges start from nothing.
REVOKE ALL ON TABLE public.items FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.items TO authenticated;

COMMENT ON TABLE public.items IS
    'Per-household catalog of items, with a category and a storage location';
