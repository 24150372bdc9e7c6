-- keel:checksum sha256:ac56bd0dc5a6ede4645b1a1cbf46c71546b85515e475c339e44ec931272ddbb2
-- keel:message events: the append-only log of everything that happened

CREATE TABLE public.events (
    id           uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    household_id uuid         NOT NULL REFERENCES public.households (id) ON DELETE CASCADE,
    event_type   text         NOT NULL
                              CONSTRAINT events_event_type_check CHECK (event_type IN (
                                  'inventory.used', 'inventory.restocked', 'inventory.ran_out',
                                  'receipt.ingested', 'receipt.confirmed',
                                  'prediction.generated',
                                  'iot.door_opened', 'iot.weight_changed', 'iot.snapshot_available')),
    source       text         NOT NULL
                              CONSTRAINT events_source_check CHECK (source IN ('user', 'receipt', 'prediction', 'iot', 'system')),
    item_id      uuid,
    -- References receipts, which does not exist yet: migration 0008 adds the
    -- foreign key when it creates the table.
    receipt_id   uuid,
    payload      jsonb        NOT NULL DEFAULT '{}'::jsonb,
    confidence   numeric(3,2) NOT NULL DEFAULT 1
                              CONSTRAINT events_confidence_check CHECK (confidence BETWEEN 0 AND 1),
    -- No updated_at: events are never updated.
    created_at   timestamptz  NOT NULL DEFAULT now()
);

-- The item must belong to the same household. When it is deleted the event
-- stays (it is history) and only item_id is cleared: the column list after
-- SET NULL (PostgreSQL 15) keeps household_id, which is part of the key,
-- from being nulled too. A separate statement only because sqlparser does
-- not know that column list yet: this way the CREATE TABLE above is still
-- validated offline and only this short statement is left to the server.
ALTER TABLE public.events
    ADD CONSTRAINT events_item_fkey FOREIGN KEY (item_id, household_id)
        REFERENCES public.items (id, household_id) ON DELETE SET NULL (item_id);

-- The activity feed: a household's newest events first. Leads with
-- household_id, so it is also the tenant-column index.
CREATE INDEX events_household_created_at_idx ON public.events (household_id, created_at DESC);

-- One item's history. Partial: many events (receipts, IoT) have no item.
-- Also serves the ON DELETE SET NULL from items.
CREATE INDEX events_item_created_at_idx ON public.events (item_id, created_at DESC)
    WHERE item_id IS NOT NULL;

-- No updated_at trigger: the table is append-only. Users get SELECT and
-- INSERT only, and sql/policies/events.sql declares no UPDATE or DELETE
-- policy, so "never updated or deleted by users" holds twice over. (Only
-- the foreign-key actions above and in 0008 ever touch existing rows.)
REVOKE ALL ON TABLE public.events FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT ON TABLE public.events TO authenticated;

COMMENT ON TABLE public.events IS
    'Append-only log of inventory, receipt, prediction and IoT events; users read and append, never update or delete';
COMMENT ON COLUMN public.events.payload IS
    'Event-specific data (JSON object), e.g. {"previous_state": "ok", "new_state": "low"}';
