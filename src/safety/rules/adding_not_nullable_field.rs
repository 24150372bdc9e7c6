//! `adding-not-nullable-field` (lock): `ALTER COLUMN ... SET NOT NULL` scans
//! every row under an ACCESS EXCLUSIVE lock, unless a validated `CHECK (col
//! IS NOT NULL)` already proves it (PostgreSQL 12+ then skips the scan). The
//! check counts when the files add and validate it earlier, or, online, when
//! the live table has it.

use crate::diagnostic::{codes, Code};
use crate::safety::schema::Schema;
use crate::safety::{Finding, Kind, SafetyRule, Target};
use crate::sql::ddl::{Action, Change};
use crate::sql::ident::quote_ident;

pub struct AddingNotNullableField;

impl SafetyRule for AddingNotNullableField {
    fn id(&self) -> Code {
        codes::ADDING_NOT_NULLABLE_FIELD
    }

    fn kind(&self) -> Kind {
        Kind::Lock
    }

    fn check(&self, change: &Change, schema: &Schema) -> Vec<Finding> {
        let Change::Alter {
            table,
            action: Action::SetNotNull { column },
        } = change
        else {
            return Vec::new();
        };
        if schema.has_not_null_check(table, column) {
            return Vec::new();
        }
        let col = quote_ident(column);
        let mut f = Finding::new(
            format!("SET NOT NULL on {table}.{column} scans every row while holding an ACCESS EXCLUSIVE lock: reads and writes wait"),
            format!("first `ALTER TABLE {t} ADD CONSTRAINT {c}_not_null CHECK ({col} IS NOT NULL) NOT VALID;`, then `ALTER TABLE {t} VALIDATE CONSTRAINT {c}_not_null;` in a `-- keel:transaction off` migration; SET NOT NULL then skips the scan, and the CHECK can be dropped", t = table.sql(), c = column),
        )
        .on(Target::Table(table.clone()));
        f.not_null = Some(column.clone());
        vec![f]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::fixture::run;

    #[test]
    fn fires_without_a_validated_check() {
        assert_eq!(
            run(&AddingNotNullableField, &["ALTER TABLE users ALTER COLUMN email SET NOT NULL;"]),
            ["1:2:1 SET NOT NULL on public.users.email scans every row while holding an ACCESS EXCLUSIVE lock: reads and writes wait"]
        );
        // A NOT VALID check proves nothing yet.
        assert_eq!(
            run(
                &AddingNotNullableField,
                &["ALTER TABLE users ADD CONSTRAINT e CHECK (email IS NOT NULL) NOT VALID;\nALTER TABLE users ALTER COLUMN email SET NOT NULL;"]
            )
            .len(),
            1
        );
    }

    #[test]
    fn quiet_after_a_validated_check_or_on_a_table_of_this_run() {
        assert!(run(
            &AddingNotNullableField,
            &[
                "ALTER TABLE users ADD CONSTRAINT e CHECK (email IS NOT NULL) NOT VALID;",
                "-- keel:transaction off\nALTER TABLE users VALIDATE CONSTRAINT e;",
                "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
            ]
        )
        .is_empty());
        assert!(run(
            &AddingNotNullableField,
            &[
                "CREATE TABLE users (email text);",
                "ALTER TABLE users ALTER COLUMN email SET NOT NULL;"
            ]
        )
        .is_empty());
    }
}
