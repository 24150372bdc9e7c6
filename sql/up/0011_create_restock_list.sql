-- keel:checksum sha256:4e816972e0573a7f85b9c8b3eec40c2fe9af7961c7cea97f7c3fcf0bb16a987d
-- keel:message restock_list (what to buy, one row per item) with dismiss_restock_item() and undismiss_restock_item()

CREATE TABLE public.restock_list (
    id                      uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    household_id            uuid         NOT NULL REFERENCES public.households (id) ON DELETE CASCADE,
    item_id                 uuid         NOT NULL,
    urgency                 text         NOT NULL
                                         CONSTRAINT restock_list_urgency_check CHECK (urgency IN ('need_now', 'need_soon', 'nice_to_top_up')),
    -- Human-readable: "Currently out", "Predicted low in 2 days", ...
    reason                  text         NOT NULL,
    days_to_low             integer      CONSTRAINT restock_list_days_to_low_check CHECK (days_to_low >= 0),
    days_to_out             integer      CONSTRAINT restock_list_days_to_out_check CHECK (days_to_out >= 0),
    -- Dismissal: hidden from the list until dismissed_until.
    dismissed_until         timestamptz,
    dismissed_at            timestamptz,
    dismissed_duration_days integer      CONSTRAINT restock_list_dismissed_duration_days_check CHECK (dismissed_duration_days > 0),
    confidence              numeric(3,2) CONSTRAINT restock_list_confidence_check CHECK (confidence BETWEEN 0 AND 1),
    created_at              timestamptz  NOT NULL DEFAULT now(),
    updated_at              timestamptz  NOT NULL DEFAULT now(),
    -- As in predictions: NULL on either side passes.
    CONSTRAINT restock_list_low_before_out_check CHECK (days_to_low <= days_to_out),
    CONSTRAINT restock_list_item_id_key UNIQUE (item_id),
    -- The item must belong to the same household (see items_id_household_key).
    CONSTRAINT restock_list_item_fkey FOREIGN KEY (item_id, household_id)
        REFERENCES public.items (id, household_id) ON DELETE CASCADE
);

-- The shopping list screen: a household's entries by urgency. Leads with
-- household_id, so it is also the tenant-column index.
CREATE INDEX restock_list_household_urgency_idx ON public.restock_list (household_id, urgency);

-- Dismissed entries (to show them again when dismissed_until passes).
-- Partial: at any time most entries are not dismissed.
CREATE INDEX restock_list_dismissed_until_idx ON public.restock_list (household_id, dismissed_until)
    WHERE dismissed_until IS NOT NULL;

CREATE TRIGGER restock_list_set_updated_at
    BEFORE UPDATE ON public.restock_list
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- See 0003 for why privileges start from nothing.
REVOKE ALL ON TABLE public.restock_list FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.restock_list TO authenticated;

COMMENT ON TABLE public.restock_list IS
    'What to buy: one entry per item with an urgency and a reason; entries can be dismissed for a while';

-- Both functions are SECURITY INVOKER (the default): they run with the
-- caller's rights, so RLS lets a user dismiss only entries of their own
-- households; for anyone else's item they change nothing and return false.
-- updated_at is left to the trigger.

-- Hides an entry for 3, 7, 14 or 30 days (default 7, as in the original
-- app). Any other duration, NULL included, is an error rather than a silent
-- no-op. Returns whether a row changed.
CREATE FUNCTION public.dismiss_restock_item(p_item_id uuid, p_duration_days integer DEFAULT 7) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = ''
    AS $$
BEGIN
    -- NOT IN with a NULL operand is NULL, not true: test NULL explicitly.
    IF p_duration_days IS NULL OR p_duration_days NOT IN (3, 7, 14, 30) THEN
        RAISE EXCEPTION 'invalid dismissal duration: % days', coalesce(p_duration_days::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'dismiss a restock item for 3, 7, 14 or 30 days';
    END IF;

    UPDATE public.restock_list
       SET dismissed_until         = now() + make_interval(days => p_duration_days),
           dismissed_at            = now(),
           dismissed_duration_days = p_duration_days
     WHERE item_id = p_item_id;
    RETURN FOUND;
END
$$;

-- Undoes a dismissal. Returns false when there was nothing to undo (no such
-- entry, not visible to the caller, or not dismissed).
CREATE FUNCTION public.undismiss_restock_item(p_item_id uuid) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = ''
    AS $$
BEGIN
    UPDATE public.restock_list
       SET dismissed_until         = NULL,
           dismissed_at            = NULL,
           dismissed_duration_days = NULL
     WHERE item_id = p_item_id
       AND (dismissed_until IS NOT NULL OR dismissed_at IS NOT NULL OR dismissed_duration_days IS NOT NULL);
    RETURN FOUND;
END
$$;

REVOKE ALL ON FUNCTION public.dismiss_restock_item(uuid, integer) FROM PUBLIC, anon;
REVOKE ALL ON FUNCTION public.undismiss_restock_item(uuid) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.dismiss_restock_item(uuid, integer) TO authenticated;
GRANT EXECUTE ON FUNCTION public.undismiss_restock_item(uuid) TO authenticated;

COMMENT ON FUNCTION public.dismiss_restock_item IS
    'Dismisses the restock entry of an item for 3, 7, 14 or 30 days (other durations raise invalid_parameter_value); returns whether a row changed';
COMMENT ON FUNCTION public.undismiss_restock_item IS
    'Undoes the dismissal of an item''s restock entry; returns whether a row changed';
