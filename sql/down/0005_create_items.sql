-- keel:checksum sha256:94aaf66740348b7aa8a8138c4276b615852117c0ac4bbbbdde2eb52ffbcbe2b2
-- keel:message drop items
--
-- Its indexes (including the trigram one), trigger, privileges and comments
-- go with the table.
DROP TABLE public.items;
