//! `adding-foreign-key-constraint` (lock): a foreign key added without `NOT
//! VALID` checks every row while holding SHARE ROW EXCLUSIVE locks on both
//! tables, so writes to the referenced table wait too.

use crate::diagnostic::{codes, Code};
use crate::safety::schema::Schema;
use crate::safety::{Finding, Kind, SafetyRule, Target};
use crate::sql::ddl::{Action, Change, Constraint, ConstraintKind};

pub struct AddingForeignKeyConstraint;

impl SafetyRule for AddingForeignKeyConstraint {
    fn id(&self) -> Code {
        codes::ADDING_FOREIGN_KEY_CONSTRAINT
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
                    kind: ConstraintKind::ForeignKey { references },
                    not_valid: false,
                    at,
                }),
        } = change
        else {
            return Vec::new();
        };
        let both = match references {
            Some(r) if r != table => format!("{table} and {r}"),
            _ => table.to_string(),
        };
        let name = name.as_deref().unwrap_or("fk");
        vec![Finding::new(
            format!("adding a foreign key checks every row of {table} while holding SHARE ROW EXCLUSIVE locks on {both}: writes wait"),
            format!("add it with `NOT VALID` (the lock is brief and only new rows are checked), then run `ALTER TABLE {} VALIDATE CONSTRAINT {name};` in a later `-- keel:transaction off` migration", table.sql()),
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
    fn fires_on_a_foreign_key_without_not_valid() {
        assert_eq!(
            run(
                &AddingForeignKeyConstraint,
                &["ALTER TABLE items ADD CONSTRAINT items_order FOREIGN KEY (order_id) REFERENCES orders (id);"]
            ),
            ["1:2:34 adding a foreign key checks every row of public.items while holding SHARE ROW EXCLUSIVE locks on public.items and public.orders: writes wait"]
        );
        // Written on a new column.
        assert_eq!(
            run(
                &AddingForeignKeyConstraint,
                &["ALTER TABLE items ADD COLUMN order_id bigint REFERENCES orders (id);"]
            )
            .len(),
            1
        );
    }

    #[test]
    fn quiet_with_not_valid_or_on_a_table_of_this_run() {
        assert!(run(
            &AddingForeignKeyConstraint,
            &["ALTER TABLE items ADD CONSTRAINT f FOREIGN KEY (o) REFERENCES orders (id) NOT VALID;"]
        )
        .is_empty());
        assert!(run(
            &AddingForeignKeyConstraint,
            &[
                "CREATE TABLE items (id bigint);",
                "ALTER TABLE items ADD CONSTRAINT f FOREIGN KEY (o) REFERENCES orders (id);"
            ]
        )
        .is_empty());
    }
}
