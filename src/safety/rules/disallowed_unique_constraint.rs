//! `disallowed-unique-constraint` (lock): `ADD CONSTRAINT ... UNIQUE` builds
//! its index while holding an ACCESS EXCLUSIVE lock on the table. Build the
//! index concurrently first, then attach it with `UNIQUE USING INDEX`.

use crate::diagnostic::{codes, Code};
use crate::safety::schema::Schema;
use crate::safety::{Finding, Kind, SafetyRule, Target};
use crate::sql::ddl::{Action, Change, Constraint, ConstraintKind};

pub struct DisallowedUniqueConstraint;

impl SafetyRule for DisallowedUniqueConstraint {
    fn id(&self) -> Code {
        codes::DISALLOWED_UNIQUE_CONSTRAINT
    }

    fn kind(&self) -> Kind {
        Kind::Lock
    }

    fn check(&self, change: &Change, _: &Schema) -> Vec<Finding> {
        let Change::Alter {
            table,
            action:
                Action::AddConstraint(Constraint {
                    name,
                    kind: ConstraintKind::Unique { using_index: false },
                    at,
                    ..
                }),
        } = change
        else {
            return Vec::new();
        };
        let name = name.as_deref().unwrap_or("u");
        vec![Finding::new(
            format!("adding a UNIQUE constraint builds its index while holding an ACCESS EXCLUSIVE lock on {table}: reads and writes wait"),
            format!("`CREATE UNIQUE INDEX CONCURRENTLY {name}_idx ON {t} (...)` in a `-- keel:transaction off` migration, then `ALTER TABLE {t} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}_idx;`", t = table.sql()),
        )
        .at(*at)
        .on(Target::Table(table.clone()))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::fixture::run;

    #[test]
    fn fires_on_unique_without_an_index() {
        assert_eq!(
            run(&DisallowedUniqueConstraint, &["ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);"]),
            ["1:2:34 adding a UNIQUE constraint builds its index while holding an ACCESS EXCLUSIVE lock on public.users: reads and writes wait"]
        );
        assert_eq!(
            run(
                &DisallowedUniqueConstraint,
                &["ALTER TABLE users ADD COLUMN handle text UNIQUE;"]
            )
            .len(),
            1
        );
    }

    #[test]
    fn quiet_with_using_index_or_on_a_table_of_this_run() {
        assert!(run(
            &DisallowedUniqueConstraint,
            &["ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;"]
        )
        .is_empty());
        assert!(run(
            &DisallowedUniqueConstraint,
            &["CREATE TABLE users (email text);\nALTER TABLE users ADD UNIQUE (email);"]
        )
        .is_empty());
    }
}
