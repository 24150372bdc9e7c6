//! `ban-drop-table` (compatibility): code that still uses the table fails,
//! and its data is gone.

use crate::diagnostic::{codes, Code};
use crate::safety::schema::Schema;
use crate::safety::{Finding, Kind, SafetyRule, Target};
use crate::sql::ddl::Change;

pub struct BanDropTable;

impl SafetyRule for BanDropTable {
    fn id(&self) -> Code {
        codes::BAN_DROP_TABLE
    }

    fn kind(&self) -> Kind {
        Kind::Compatibility
    }

    fn check(&self, change: &Change, _: &Schema) -> Vec<Finding> {
        let Change::DropTable { tables } = change else {
            return Vec::new();
        };
        tables
            .iter()
            .map(|t| {
                Finding::new(
                    format!("dropping {t} breaks code that still uses it, and loses its data"),
                    "first deploy code that no longer uses the table (keep a backup if its data may be wanted), then drop it in a later migration with `-- keel:allow ban-drop-table <why nothing uses it>`",
                )
                .on(Target::Table(t.clone()))
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
            run(&BanDropTable, &["DROP TABLE IF EXISTS sessions;"]),
            ["1:2:1 dropping public.sessions breaks code that still uses it, and loses its data"]
        );
    }

    #[test]
    fn quiet_on_a_table_of_this_run() {
        assert!(run(
            &BanDropTable,
            &["CREATE TABLE scratch (a int);", "DROP TABLE scratch;"]
        )
        .is_empty());
    }
}
