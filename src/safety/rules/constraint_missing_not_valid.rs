//! `constraint-missing-not-valid` (lock): a CHECK constraint added without
//! `NOT VALID` is checked against every row under the ACCESS EXCLUSIVE lock
//! of `ALTER TABLE ... ADD CONSTRAINT`. Also any constraint validated in the
//! transaction that added it `NOT VALID`: the lock is still held, so the
//! split gains nothing. (A foreign key without `NOT VALID` is
//! `adding-foreign-key-constraint`.)

use crate::diagnostic::{codes, Code};
use crate::safety::schema::Schema;
use crate::safety::{Finding, Kind, SafetyRule, Target};
use crate::sql::ddl::{Action, Change, Constraint, ConstraintKind};

pub struct ConstraintMissingNotValid;

impl SafetyRule for ConstraintMissingNotValid {
    fn id(&self) -> Code {
        codes::CONSTRAINT_MISSING_NOT_VALID
    }

    fn kind(&self) -> Kind {
        Kind::Lock
    }

    fn check(&self, change: &Change, schema: &Schema) -> Vec<Finding> {
        let Change::Alter { table, action } = change else {
            return Vec::new();
        };
        let finding = match action {
            Action::AddConstraint(Constraint {
                name,
                kind: ConstraintKind::Check { .. },
                not_valid: false,
                at,
            }) => {
                let name = name.as_deref().unwrap_or("c");
                Finding::new(
                    format!("adding a CHECK constraint checks every row of {table} while holding an ACCESS EXCLUSIVE lock: reads and writes wait"),
                    format!("add it with `NOT VALID` (new rows are checked, the lock is brief), then run `ALTER TABLE {} VALIDATE CONSTRAINT {name};` in a later `-- keel:transaction off` migration: validating lets reads and writes go on", table.sql()),
                )
                .at(*at)
            }
            Action::ValidateConstraint(name) if schema.not_valid_in_this_transaction(table, name) => {
                Finding::new(
                    format!("VALIDATE CONSTRAINT {name} runs in the transaction that added it NOT VALID: the ACCESS EXCLUSIVE lock of the ADD is still held on {table} while every row is checked"),
                    "validate it in a `-- keel:transaction off` migration: keel runs a whole run in one transaction by default, so a later migration alone is not enough",
                )
            }
            _ => return Vec::new(),
        };
        vec![finding.on(Target::Table(table.clone()))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::fixture::run;

    #[test]
    fn fires_on_a_check_without_not_valid_and_on_validating_in_the_same_transaction() {
        assert_eq!(
            run(
                &ConstraintMissingNotValid,
                &["ALTER TABLE items ADD CONSTRAINT qty_positive CHECK (qty > 0);"]
            ),
            ["1:2:34 adding a CHECK constraint checks every row of public.items while holding an ACCESS EXCLUSIVE lock: reads and writes wait"]
        );
        // The same run: one transaction by default.
        let found = run(
            &ConstraintMissingNotValid,
            &[
                "ALTER TABLE items ADD CONSTRAINT q CHECK (qty > 0) NOT VALID;",
                "ALTER TABLE items VALIDATE CONSTRAINT q;",
            ],
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("2:2:1 VALIDATE CONSTRAINT q runs in the transaction"));
    }

    #[test]
    fn quiet_when_not_valid_then_validated_in_another_transaction() {
        assert!(run(
            &ConstraintMissingNotValid,
            &[
                "ALTER TABLE items ADD CONSTRAINT q CHECK (qty > 0) NOT VALID;",
                "-- keel:transaction off\nALTER TABLE items VALIDATE CONSTRAINT q;",
            ]
        )
        .is_empty());
        // On a table of this run.
        assert!(run(
            &ConstraintMissingNotValid,
            &["CREATE TABLE items (qty int);\nALTER TABLE items ADD CHECK (qty > 0);"]
        )
        .is_empty());
        // A foreign key is the other rule's.
        assert!(run(
            &ConstraintMissingNotValid,
            &["ALTER TABLE items ADD FOREIGN KEY (o) REFERENCES orders (id);"]
        )
        .is_empty());
    }
}
