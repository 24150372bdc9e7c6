-- keel:checksum sha256:fd8db4369166cbf2fbd3f1f0ef5623247322846412fed0768808669739dbd509
-- keel:message drop receipt_items and its same-household trigger function
--
-- Reverse order of the up migration. The table takes its indexes, triggers,
-- privileges and comments with it; the trigger function is then unused.
DROP TABLE public.receipt_items;
DROP FUNCTION public.receipt_items_check_household();
