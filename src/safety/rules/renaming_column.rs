//! `renaming-column` (compatibility): code that still uses the old name
//! (the running version of the application, while the new one deploys)
//! fails as soon as the migration commits.

use crate::diagnostic::{codes, Code};
use crate::safety::schema::Schema;
use crate::safety::{Finding, Kind, SafetyRule, Target};
use crate::sql::ddl::{Action, Change};

pub struct RenamingColumn;

impl SafetyRule for RenamingColumn {
    fn id(&self) -> Code {
        codes::RENAMING_COLUMN
    }

    fn kind(&self) -> Kind {
        Kind::Compatibility
    }

    fn check(&self, change: &Change, _: &Schema) -> Vec<Finding> {
        let Change::Alter {
            table,
            action: Action::RenameColumn { from, to },
        } = change
        else {
            return Vec::new();
        };
        vec![Finding::new(
            format!("renaming {table}.{from} to {to} breaks code that still uses {from}, such as the running version of the application"),
            "add the new column, write both, backfill, move readers to it, then drop the old one in a later migration; or allow this once nothing uses the old name",
        )
        .on(Target::Table(table.clone()))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::fixture::run;

    #[test]
    fn fires_on_an_existing_table() {
        assert_eq!(
            run(&RenamingColumn, &["ALTER TABLE users RENAME COLUMN mail TO email;"]),
            ["1:2:1 renaming public.users.mail to email breaks code that still uses mail, such as the running version of the application"]
        );
    }

    #[test]
    fn quiet_on_a_table_of_this_run() {
        assert!(run(
            &RenamingColumn,
            &["CREATE TABLE users (mail text);\nALTER TABLE users RENAME COLUMN mail TO email;"]
        )
        .is_empty());
    }
}
