-- keel:checksum sha256:2a3eabcadddcfb54423df41d3f5e31f023257315dc77ee6298f7bae930a03276
-- keel:message drop the dismissal functions and restock_list
--
-- Reverse order of the up migration.
DROP FUNCTION public.undismiss_restock_item(uuid);
DROP FUNCTION public.dismiss_restock_item(uuid, integer);
DROP TABLE public.restock_list;
