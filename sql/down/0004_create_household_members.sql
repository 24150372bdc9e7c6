-- keel:checksum sha256:8c246668bb6c687f3176be8b17ed21025d9c55b4b7c66f0eb5cda46be9332caf
-- keel:message drop the membership helpers and household_members
--
-- Reverse order of the up migration. The policies that call the helpers are
-- declared to apply from version 0004, so keel's policy stage has removed
-- them before this runs. The table's index, trigger, privileges and comments
-- go with it.
DROP FUNCTION public.household_has_members(uuid);
DROP FUNCTION public.can_become_first_admin(uuid);
DROP FUNCTION public.user_admin_household_ids();
DROP FUNCTION public.user_household_ids();
DROP TABLE public.household_members;
