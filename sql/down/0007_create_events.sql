-- keel:checksum sha256:b32eed1b129469f135a6bc4773a062fae9fdcc6d16cc9f5928edce6ae350bc01
-- keel:message drop events
DROP TABLE public.events;
