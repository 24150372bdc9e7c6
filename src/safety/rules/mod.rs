//! The safety rules, one file each (see [`super`]).

mod adding_field_with_default;
mod adding_foreign_key_constraint;
mod adding_not_nullable_field;
mod adding_serial_primary_key_field;
mod ban_char_field;
mod ban_drop_column;
mod ban_drop_table;
mod changing_column_type;
mod constraint_missing_not_valid;
mod disallowed_unique_constraint;
mod prefer_bigint_over_int;
mod prefer_identity;
mod prefer_text_field;
mod prefer_timestamptz;
mod renaming_column;
mod renaming_table;
mod require_concurrent_index_creation;
mod require_concurrent_index_deletion;

use super::SafetyRule;

/// Every rule, in the order of `docs/safety.md` and of
/// [`crate::diagnostic::codes::SAFETY_RULES`].
pub const RULES: &[&dyn SafetyRule] = &[
    &require_concurrent_index_creation::RequireConcurrentIndexCreation,
    &require_concurrent_index_deletion::RequireConcurrentIndexDeletion,
    &constraint_missing_not_valid::ConstraintMissingNotValid,
    &adding_foreign_key_constraint::AddingForeignKeyConstraint,
    &adding_not_nullable_field::AddingNotNullableField,
    &adding_field_with_default::AddingFieldWithDefault,
    &changing_column_type::ChangingColumnType,
    &disallowed_unique_constraint::DisallowedUniqueConstraint,
    &adding_serial_primary_key_field::AddingSerialPrimaryKeyField,
    &renaming_column::RenamingColumn,
    &renaming_table::RenamingTable,
    &ban_drop_column::BanDropColumn,
    &ban_drop_table::BanDropTable,
    &prefer_bigint_over_int::PreferBigintOverInt,
    &prefer_identity::PreferIdentity,
    &prefer_timestamptz::PreferTimestamptz,
    &prefer_text_field::PreferTextField,
    &ban_char_field::BanCharField,
];
