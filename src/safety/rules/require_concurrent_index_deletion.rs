//! `require-concurrent-index-deletion` (lock): `DROP INDEX` without
//! `CONCURRENTLY` takes an ACCESS EXCLUSIVE lock on the index's table: brief,
//! but it queues behind every running query, and everything queues behind
//! it.
//!
//! sqlparser does not read `DROP INDEX CONCURRENTLY`, so the safe form never
//! reaches the rule (it gets the `unvalidated` warning, or the server's
//! check online).

use crate::diagnostic::{codes, Code};
use crate::safety::schema::Schema;
use crate::safety::{Finding, Kind, SafetyRule, Target};
use crate::sql::ddl::Change;

pub struct RequireConcurrentIndexDeletion;

impl SafetyRule for RequireConcurrentIndexDeletion {
    fn id(&self) -> Code {
        codes::REQUIRE_CONCURRENT_INDEX_DELETION
    }

    fn kind(&self) -> Kind {
        Kind::Lock
    }

    fn check(&self, change: &Change, schema: &Schema) -> Vec<Finding> {
        let Change::DropIndex { indexes } = change else {
            return Vec::new();
        };
        indexes
            .iter()
            .map(|index| {
                let table = schema
                    .index_table(index)
                    .map_or_else(|| "its table".to_string(), |t| t.to_string());
                Finding::new(
                    format!("DROP INDEX {index} without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on {table}: it waits for every running query, and every query waits for it"),
                    format!("write `DROP INDEX CONCURRENTLY {};` in a migration with `-- keel:transaction off` (one index per statement)", index.sql()),
                )
                .on(Target::Index(index.clone()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::fixture::{run, run_applied};

    #[test]
    fn fires_on_an_index_of_an_existing_table() {
        assert_eq!(
            run_applied(
                &RequireConcurrentIndexDeletion,
                &["CREATE TABLE t (a int);\nCREATE INDEX t_a ON t (a);", "DROP INDEX t_a;"],
                1
            ),
            ["2:2:1 DROP INDEX public.t_a without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on public.t: it waits for every running query, and every query waits for it"]
        );
        assert_eq!(
            run(
                &RequireConcurrentIndexDeletion,
                &["DROP INDEX IF EXISTS elsewhere;"]
            )
            .len(),
            1
        );
    }

    #[test]
    fn quiet_when_concurrent_or_created_by_this_run() {
        assert!(run(
            &RequireConcurrentIndexDeletion,
            &["DROP INDEX CONCURRENTLY i;"]
        )
        .is_empty());
        assert!(run_applied(
            &RequireConcurrentIndexDeletion,
            &[
                "CREATE TABLE t (a int);",
                "CREATE INDEX t_a ON t (a);",
                "DROP INDEX t_a;"
            ],
            1
        )
        .is_empty());
    }
}
