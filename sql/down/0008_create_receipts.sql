-- keel:checksum sha256:3c7d68fe94f897ad504802bcd0ea23bbbd469604d0d7b39f35ca4b5edd7d185c
-- keel:message drop the events.receipt_id foreign key and its index, then receipts
--
-- Reverse order of the up migration. events.receipt_id itself belongs to
-- 0007 and stays.
DROP INDEX public.events_receipt_id_idx;
ALTER TABLE public.events DROP CONSTRAINT events_receipt_fkey;
DROP TABLE public.receipts;
