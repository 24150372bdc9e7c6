-- keel:checksum sha256:949eb6291e5af2f7176459b7dbcbf482d14285c889f5e215d4041c6e9b282d0e
-- keel:message receipt_items: parsed lines of a receipt (tenant through its receipt)
--
-- receipt_items has no household_id column: its household is its receipt's.
-- The policies in sql/policies/receipt_items.sql follow the receipt.

CREATE TABLE public.receipt_items (
    id                    uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    receipt_id            uuid          NOT NULL REFERENCES public.receipts (id) ON DELETE CASCADE,
    -- The catalog item this line was mapped to, if any.
    item_id               uuid          REFERENCES public.items (id) ON DELETE SET NULL,

    raw_name              text          NOT NULL,
    normalized_name       text,
    quantity              numeric(10,2) NOT NULL DEFAULT 1
                                        CONSTRAINT receipt_items_quantity_check CHECK (quantity > 0),
    unit                  text,
    price                 numeric(10,2) CONSTRAINT receipt_items_price_check CHECK (price >= 0),
    line_number           integer       CONSTRAINT receipt_items_line_number_check CHECK (line_number > 0),

    -- Overall, OCR and parsing confidence, each 0 to 1.
    confidence            numeric(3,2)  CONSTRAINT receipt_items_confidence_check CHECK (confidence BETWEEN 0 AND 1),
    ocr_confidence        numeric(3,2)  CONSTRAINT receipt_items_ocr_confidence_check CHECK (ocr_confidence BETWEEN 0 AND 1),
    parsing_confidence    numeric(3,2)  CONSTRAINT receipt_items_parsing_confidence_check CHECK (parsing_confidence BETWEEN 0 AND 1),

    -- Best catalog matches, e.g. [{"item_id": "...", "score": 0.92}, ...].
    -- NOT NULL so that "must be an array" has no NULL loophole.
    mapping_candidates    jsonb         NOT NULL DEFAULT '[]'::jsonb
                                        CONSTRAINT receipt_items_mapping_candidates_check CHECK (jsonb_typeof(mapping_candidates) = 'array'),

    status                text          NOT NULL DEFAULT 'pending'
                                        CONSTRAINT receipt_items_status_check CHECK (status IN ('pending', 'confirmed', 'skipped', 'auto_mapped')),

    -- What the user changed while reviewing (training signal for matching).
    user_edited_name      text,
    user_selected_item_id uuid          REFERENCES public.items (id) ON DELETE SET NULL,
    confirmed_at          timestamptz,

    created_at            timestamptz   NOT NULL DEFAULT now(),
    updated_at            timestamptz   NOT NULL DEFAULT now()
);

-- The review screen: a receipt's lines in order. Leads with receipt_id,
-- the tenant path of this table (and the ON DELETE CASCADE from receipts).
CREATE INDEX receipt_items_receipt_line_idx ON public.receipt_items (receipt_id, line_number);

-- Lines mapped to an item, and the ON DELETE SET NULL from items. Partial:
-- most lines are unmapped or were never edited.
CREATE INDEX receipt_items_item_id_idx ON public.receipt_items (item_id)
    WHERE item_id IS NOT NULL;
CREATE INDEX receipt_items_user_selected_item_id_idx ON public.receipt_items (user_selected_item_id)
    WHERE user_selected_item_id IS NOT NULL;

-- Containment searches inside the candidates (mapping_candidates @> ...).
CREATE INDEX receipt_items_mapping_candidates_idx ON public.receipt_items USING gin (mapping_candidates);

CREATE TRIGGER receipt_items_set_updated_at
    BEFORE UPDATE ON public.receipt_items
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- Same-household rule. Without a household_id column, a composite foreign
-- key (as on inventory or events) cannot say "the mapped item belongs to
-- the receipt's household", and plain foreign-key checks ignore RLS: a
-- member could otherwise map a line to an item of a household they merely
-- know the id of. This trigger checks it instead.
-- It runs with the caller's rights (not SECURITY DEFINER), so an item the
-- caller cannot see counts as missing and is refused too.
CREATE FUNCTION public.receipt_items_check_household() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
    AS $$
DECLARE
    referenced uuid;
BEGIN
    FOREACH referenced IN ARRAY ARRAY[NEW.item_id, NEW.user_selected_item_id] LOOP
        IF referenced IS NOT NULL AND NOT EXISTS (
            SELECT FROM public.items AS i
            JOIN public.receipts AS r ON r.household_id = i.household_id
            WHERE i.id = referenced AND r.id = NEW.receipt_id
        ) THEN
            RAISE EXCEPTION 'receipt line % refers to item %, which is not in the household of receipt %',
                    NEW.id, referenced, NEW.receipt_id
                USING ERRCODE = 'foreign_key_violation',
                      HINT = 'a receipt line can only be mapped to an item of its receipt''s household';
        END IF;
    END LOOP;
    RETURN NEW;
END
$$;

CREATE TRIGGER receipt_items_check_household
    BEFORE INSERT OR UPDATE OF receipt_id, item_id, user_selected_item_id ON public.receipt_items
    FOR EACH ROW EXECUTE FUNCTION public.receipt_items_check_household();

-- See 0003 for why privileges start from nothing.
REVOKE ALL ON TABLE public.receipt_items FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.receipt_items TO authenticated;

COMMENT ON TABLE public.receipt_items IS
    'Parsed lines of a receipt with their mapping to catalog items; belongs to the household of its receipt';
COMMENT ON FUNCTION public.receipt_items_check_household IS
    'Trigger: a receipt line may only be mapped to items of its receipt''s household';
