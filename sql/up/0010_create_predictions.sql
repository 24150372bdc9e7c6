-- keel:checksum sha256:7962b790fa7610d8b12b45b5bdb9e5f4ee28d8e71c11e98596d1d71d8034f57e
-- keel:message predictions (latest prediction per item) and mark_stale_predictions()

CREATE TABLE public.predictions (
    id              uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    household_id    uuid         NOT NULL REFERENCES public.households (id) ON DELETE CASCADE,
    item_id         uuid         NOT NULL,
    predicted_state text         NOT NULL
                                 CONSTRAINT predictions_predicted_state_check CHECK (predicted_state IN ('plenty', 'ok', 'low', 'almost_out', 'out')),
    confidence      numeric(3,2) NOT NULL
                                 CONSTRAINT predictions_confidence_check CHECK (confidence BETWEEN 0 AND 1),
    days_to_low     integer      CONSTRAINT predictions_days_to_low_check CHECK (days_to_low >= 0),
    days_to_out     integer      CONSTRAINT predictions_days_to_out_check CHECK (days_to_out >= 0),
    -- Explanations, e.g. ["consistent_usage_pattern", "receipt_confirmed_2_days_ago"].
    reason_codes    jsonb        NOT NULL DEFAULT '[]'::jsonb
                                 CONSTRAINT predictions_reason_codes_check CHECK (jsonb_typeof(reason_codes) = 'array'),
    model_version   text         NOT NULL,
    model_type      text         NOT NULL DEFAULT 'rules'
                                 CONSTRAINT predictions_model_type_check CHECK (model_type IN ('rules', 'ml', 'hybrid')),
    predicted_at    timestamptz  NOT NULL DEFAULT now(),
    -- Set by mark_stale_predictions() once predicted_at is over 24 hours old.
    is_stale        boolean      NOT NULL DEFAULT false,
    created_at      timestamptz  NOT NULL DEFAULT now(),
    updated_at      timestamptz  NOT NULL DEFAULT now(),
    -- "low before out when both are set": a CHECK whose expression is NULL
    -- passes, so a NULL on either side needs no special case.
    CONSTRAINT predictions_low_before_out_check CHECK (days_to_low <= days_to_out),
    -- Latest prediction only: one row per item.
    CONSTRAINT predictions_item_id_key UNIQUE (item_id),
    -- The item must belong to the same household (see items_id_household_key).
    CONSTRAINT predictions_item_fkey FOREIGN KEY (item_id, household_id)
        REFERENCES public.items (id, household_id) ON DELETE CASCADE
);

-- A household's predictions by state. Leads with household_id, so it is also
-- the tenant-column index.
CREATE INDEX predictions_household_state_idx ON public.predictions (household_id, predicted_state);

-- Containment searches in the reason codes (reason_codes ? 'x', @>).
CREATE INDEX predictions_reason_codes_idx ON public.predictions USING gin (reason_codes);

-- What mark_stale_predictions() scans. Partial: only fresh predictions can
-- become stale, and once marked they leave the index.
CREATE INDEX predictions_fresh_predicted_at_idx ON public.predictions (predicted_at)
    WHERE NOT is_stale;

CREATE TRIGGER predictions_set_updated_at
    BEFORE UPDATE ON public.predictions
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- See 0003 for why privileges start from nothing.
REVOKE ALL ON TABLE public.predictions FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.predictions TO authenticated;

COMMENT ON TABLE public.predictions IS
    'Latest prediction of each item''s state, with confidence, days to low/out and reason codes';

-- Marks every fresh prediction older than 24 hours stale and returns how many
-- it marked. SECURITY INVOKER (the default) on purpose: called by a signed-in
-- user it marks only their households' predictions (RLS applies); called by
-- a scheduled job with a privileged role it marks all of them.
CREATE FUNCTION public.mark_stale_predictions() RETURNS integer
    LANGUAGE plpgsql
    SET search_path = ''
    AS $$
DECLARE
    marked integer;
BEGIN
    UPDATE public.predictions
       SET is_stale = true
     WHERE NOT is_stale
       AND predicted_at < now() - interval '24 hours';
    GET DIAGNOSTICS marked = ROW_COUNT;
    RETURN marked;
END
$$;

REVOKE ALL ON FUNCTION public.mark_stale_predictions() FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.mark_stale_predictions() TO authenticated;

COMMENT ON FUNCTION public.mark_stale_predictions IS
    'Marks predictions older than 24 hours stale (within what the caller may update); returns how many were marked';
