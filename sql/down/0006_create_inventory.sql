-- keel:checksum sha256:af05b710be2373631a9ad4d1ce0718931f94236e4257edc01dcb98afc513c50d
-- keel:message drop inventory
DROP TABLE public.inventory;
