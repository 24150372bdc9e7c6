-- keel:checksum sha256:5cd13ff0588345e5561dba4aff5502c6b8483f9a41860417b4c70df3d0c68915
-- keel:message drop households
--
-- Its index, trigger, privileges and comments go with the table.
DROP TABLE public.households;
