//! `require-concurrent-index-creation` (lock): `CREATE INDEX` without
//! `CONCURRENTLY` holds a SHARE lock on the table while the whole index is
//! built: every INSERT, UPDATE and DELETE waits.

use crate::diagnostic::{codes, Code};
use crate::safety::schema::Schema;
use crate::safety::{Finding, Kind, SafetyRule, Target};
use crate::sql::ddl::Change;

pub struct RequireConcurrentIndexCreation;

impl SafetyRule for RequireConcurrentIndexCreation {
    fn id(&self) -> Code {
        codes::REQUIRE_CONCURRENT_INDEX_CREATION
    }

    fn kind(&self) -> Kind {
        Kind::Lock
    }

    fn check(&self, change: &Change, _: &Schema) -> Vec<Finding> {
        let Change::CreateIndex {
            table,
            concurrently: false,
            ..
        } = change
        else {
            return Vec::new();
        };
        vec![Finding::new(
            format!("CREATE INDEX without CONCURRENTLY blocks writes to {table} until the index is built"),
            "write `CREATE INDEX CONCURRENTLY` in a migration of its own with `-- keel:transaction off` (it cannot run in a transaction); if it fails, drop the INVALID index it leaves and run it again",
        )
        .on(Target::Table(table.clone()))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::fixture::{run, run_applied};

    #[test]
    fn fires_on_an_existing_table() {
        assert_eq!(
            run(&RequireConcurrentIndexCreation, &["CREATE INDEX items_name ON items (name);"]),
            ["1:2:1 CREATE INDEX without CONCURRENTLY blocks writes to public.items until the index is built"]
        );
        // Created by a migration that is already applied: it exists.
        assert_eq!(
            run_applied(
                &RequireConcurrentIndexCreation,
                &[
                    "CREATE TABLE items (name text);",
                    "CREATE UNIQUE INDEX i ON items (name);"
                ],
                1
            )
            .len(),
            1
        );
    }

    #[test]
    fn quiet_when_concurrent_or_on_a_table_of_this_run() {
        assert!(run(
            &RequireConcurrentIndexCreation,
            &["CREATE INDEX CONCURRENTLY i ON items (name);"]
        )
        .is_empty());
        // Same file, and an earlier migration of the same run.
        assert!(run(
            &RequireConcurrentIndexCreation,
            &["CREATE TABLE items (name text);\nCREATE INDEX i ON items (name);"]
        )
        .is_empty());
        assert!(run(
            &RequireConcurrentIndexCreation,
            &[
                "CREATE TABLE items (name text);",
                "CREATE INDEX i ON public.items (name);"
            ]
        )
        .is_empty());
    }
}
