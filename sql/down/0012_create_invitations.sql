-- keel:checksum sha256:3b1abbb659bf8431031c21a16852c5d4e0ab4bd574766eb2fda3ca2341e5db9c
-- keel:message drop invitations
DROP TABLE public.invitations;
