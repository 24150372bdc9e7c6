//! `adding-serial-primary-key-field` (lock): adding a primary key to an
//! existing table (`ADD PRIMARY KEY`, or a new `id serial PRIMARY KEY`
//! column) builds its unique index, and checks its columns are not null,
//! under an ACCESS EXCLUSIVE lock.

use crate::diagnostic::{codes, Code};
use crate::safety::schema::Schema;
use crate::safety::{Finding, Kind, SafetyRule, Target};
use crate::sql::ddl::{Action, Change, Constraint, ConstraintKind};

pub struct AddingSerialPrimaryKeyField;

impl SafetyRule for AddingSerialPrimaryKeyField {
    fn id(&self) -> Code {
        codes::ADDING_SERIAL_PRIMARY_KEY_FIELD
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
                    kind: ConstraintKind::PrimaryKey { using_index: false },
                    at,
                    ..
                }),
        } = change
        else {
            return Vec::new();
        };
        let name = name
            .clone()
            .unwrap_or_else(|| format!("{}_pkey", table.name));
        vec![Finding::new(
            format!("adding a primary key builds its index while holding an ACCESS EXCLUSIVE lock on {table}: reads and writes wait"),
            format!("make the columns NOT NULL safely (see adding-not-nullable-field), `CREATE UNIQUE INDEX CONCURRENTLY {name} ON {t} (...)` in a `-- keel:transaction off` migration, then `ALTER TABLE {t} ADD CONSTRAINT {name} PRIMARY KEY USING INDEX {name};`", t = table.sql()),
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
    fn fires_on_a_primary_key_added_to_an_existing_table() {
        assert_eq!(
            run(&AddingSerialPrimaryKeyField, &["ALTER TABLE items ADD PRIMARY KEY (id);"]),
            ["1:2:1 adding a primary key builds its index while holding an ACCESS EXCLUSIVE lock on public.items: reads and writes wait"]
        );
        assert_eq!(
            run(
                &AddingSerialPrimaryKeyField,
                &["ALTER TABLE items ADD COLUMN id serial PRIMARY KEY;"]
            )
            .len(),
            1
        );
    }

    #[test]
    fn quiet_with_using_index_or_on_a_table_of_this_run() {
        assert!(run(
            &AddingSerialPrimaryKeyField,
            &["ALTER TABLE items ADD CONSTRAINT items_pkey PRIMARY KEY USING INDEX items_pkey;"]
        )
        .is_empty());
        assert!(run(
            &AddingSerialPrimaryKeyField,
            &[
                "CREATE TABLE items (id bigint);",
                "ALTER TABLE items ADD PRIMARY KEY (id);"
            ]
        )
        .is_empty());
    }
}
