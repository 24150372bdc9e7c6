-- keel:checksum sha256:120f87226d92d5435d9214850b3de7dd73400a529766036bafb4eb2394ce5b17
-- keel:message receipts: uploaded receipts and their OCR pipeline; adds the events.receipt_id foreign key

-- The private Supabase Storage bucket `receipts` is left out: it depends on Supabase's `storage` schema, which plain PostgreSQL does not have.

CREATE TABLE public.receipts (
    id                    uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    household_id          uuid          NOT NULL REFERENCES public.households (id) ON DELETE CASCADE,

    -- The uploaded file (its path in storage).
    file_path             text          NOT NULL,
    file_type             text          NOT NULL
                                        CONSTRAINT receipts_file_type_check CHECK (file_type IN ('image/jpeg', 'image/png', 'application/pdf')),
    -- 1 byte to 10 MiB.
    file_size_bytes       integer       NOT NULL
                                        CONSTRAINT receipts_file_size_bytes_check CHECK (file_size_bytes BETWEEN 1 AND 10485760),

    -- uploaded -> processing -> parsed -> confirmed, or failed. Only the
    -- values are checked; the order of transitions is the pipeline's job.
    status                text          NOT NULL DEFAULT 'uploaded'
                                        CONSTRAINT receipts_status_check CHECK (status IN ('uploaded', 'processing', 'parsed', 'confirmed', 'failed')),

    -- OCR output.
    ocr_text              text,
    ocr_confidence        numeric(3,2)  CONSTRAINT receipts_ocr_confidence_check CHECK (ocr_confidence BETWEEN 0 AND 1),
    store_name            text,
    receipt_date          date,
    total_amount          numeric(10,2) CONSTRAINT receipts_total_amount_check CHECK (total_amount >= 0),
    item_count            integer       NOT NULL DEFAULT 0
                                        CONSTRAINT receipts_item_count_check CHECK (item_count >= 0),
    confirmed_count       integer       NOT NULL DEFAULT 0
                                        CONSTRAINT receipts_confirmed_count_check CHECK (confirmed_count >= 0),

    -- Set when status = 'failed'.
    error_message         text,
    error_code            text,

    -- When each stage was reached.
    uploaded_at           timestamptz   NOT NULL DEFAULT now(),
    processing_started_at timestamptz,
    parsed_at             timestamptz,
    confirmed_at          timestamptz,

    created_at            timestamptz   NOT NULL DEFAULT now(),
    updated_at            timestamptz   NOT NULL DEFAULT now(),

    CONSTRAINT receipts_confirmed_le_items_check CHECK (confirmed_count <= item_count),
    -- Lets events reference (receipt_id, household_id) together, so an event
    -- can never point at another household's receipt (as for items).
    CONSTRAINT receipts_id_household_key UNIQUE (id, household_id)
);

-- The receipts screen: a household's receipts by status, and newest first.
-- Both lead with household_id, so they are also the tenant-column index.
CREATE INDEX receipts_household_status_idx ON public.receipts (household_id, status);
CREATE INDEX receipts_household_uploaded_at_idx ON public.receipts (household_id, uploaded_at DESC);

-- The OCR worker's queue. Partial: receipts still waiting or in progress
-- are a tiny fraction of all receipts.
CREATE INDEX receipts_ocr_queue_idx ON public.receipts (uploaded_at)
    WHERE status IN ('uploaded', 'processing');

CREATE TRIGGER receipts_set_updated_at
    BEFORE UPDATE ON public.receipts
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- See 0003 for why privileges start from nothing.
REVOKE ALL ON TABLE public.receipts FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.receipts TO authenticated;

COMMENT ON TABLE public.receipts IS
    'Uploaded receipts (jpeg, png or pdf, up to 10 MiB) and the state of their OCR processing';

-- events.receipt_id (created by 0007) can reference receipts now. Same
-- pattern as events.item_id: same household guaranteed, and deleting a
-- receipt keeps its events and clears only receipt_id.
ALTER TABLE public.events
    ADD CONSTRAINT events_receipt_fkey FOREIGN KEY (receipt_id, household_id)
        REFERENCES public.receipts (id, household_id) ON DELETE SET NULL (receipt_id);

-- A receipt's events, and the ON DELETE SET NULL above. Partial: most
-- events have no receipt.
CREATE INDEX events_receipt_id_idx ON public.events (receipt_id)
    WHERE receipt_id IS NOT NULL;
