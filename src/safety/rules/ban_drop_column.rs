//! `ban-drop-column` (compatibility): code that still reads or writes the
//! column fails as soon as the migration commits, and its data is gone.

use crate::diagnostic::{codes, Code};
use crate::safety::schema::Schema;
use crate::safety::{Finding, Kind, SafetyRule, Target};
use crate::sql::ddl::{Action, Change};

pub struct BanDropColumn;

impl SafetyRule for BanDropColumn {
    fn id(&self) -> Code {
        codes::BAN_DROP_COLUMN
    }

    fn kind(&self) -> Kind {
        Kind::Compatibility
    }

    fn check(&self, change: &Change, _: &Schema) -> Vec<Finding> {
        let Change::Alter {
            table,
            action: Action::DropColumn(columns),
        } = change
        else {
            return Vec::new();
        };
        columns
            .iter()
            .map(|c| {
                Finding::new(
                    format!("dropping {table}.{c} breaks code that still uses it, such as the running version of the application, and loses its data"),
                    format!("first deploy code that no longer reads or writes {c} (ORMs: remove it from the model, or mark it ignored), then drop it in a later migration with `-- keel:allow ban-drop-column <why nothing uses it>`"),
                )
                .on(Target::Table(table.clone()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::fixture::run;

    #[test]
    fn fires_on_an_existing_table() {
        assert_eq!(
            run(&BanDropColumn, &["ALTER TABLE users DROP COLUMN legacy, DROP COLUMN older;"]),
            [
                "1:2:1 dropping public.users.legacy breaks code that still uses it, such as the running version of the application, and loses its data",
                "1:2:1 dropping public.users.older breaks code that still uses it, such as the running version of the application, and loses its data",
            ]
        );
    }

    #[test]
    fn quiet_on_a_table_of_this_run() {
        assert!(run(
            &BanDropColumn,
            &["CREATE TABLE users (legacy int);\nALTER TABLE users DROP COLUMN legacy;"]
        )
        .is_empty());
    }
}
