//! `renaming-table` (compatibility): code that still uses the old name
//! fails as soon as the migration commits.

use crate::diagnostic::{codes, Code};
use crate::safety::schema::Schema;
use crate::safety::{Finding, Kind, SafetyRule, Target};
use crate::sql::ddl::{Action, Change};

pub struct RenamingTable;

impl SafetyRule for RenamingTable {
    fn id(&self) -> Code {
        codes::RENAMING_TABLE
    }

    fn kind(&self) -> Kind {
        Kind::Compatibility
    }

    fn check(&self, change: &Change, _: &Schema) -> Vec<Finding> {
        let Change::Alter {
            table,
            action: Action::RenameTable(to),
        } = change
        else {
            return Vec::new();
        };
        vec![Finding::new(
            format!("renaming {table} to {to} breaks code that still uses {table}, such as the running version of the application"),
            format!("rename it and, in the same migration, `CREATE VIEW {} AS SELECT * FROM {};` (a simple view can be written through) until nothing uses the old name", table.sql(), to.sql()),
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
            run(&RenamingTable, &["ALTER TABLE users RENAME TO accounts;"]),
            ["1:2:1 renaming public.users to public.accounts breaks code that still uses public.users, such as the running version of the application"]
        );
    }

    #[test]
    fn quiet_on_a_table_of_this_run() {
        assert!(run(
            &RenamingTable,
            &[
                "CREATE TABLE users (a int);",
                "ALTER TABLE users RENAME TO accounts;"
            ]
        )
        .is_empty());
    }
}
