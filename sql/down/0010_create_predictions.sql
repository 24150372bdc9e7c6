-- keel:checksum sha256:0c6a7f277fb41f54b384b132992459d3678c469592a0d7abf837f3a78e71b757
-- keel:message drop mark_stale_predictions() and predictions
--
-- Reverse order of the up migration.
DROP FUNCTION public.mark_stale_predictions();
DROP TABLE public.predictions;
