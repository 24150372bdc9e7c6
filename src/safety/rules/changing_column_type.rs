//! `changing-column-type` (lock): `ALTER COLUMN ... TYPE` rewrites the table
//! and rebuilds its indexes under an ACCESS EXCLUSIVE lock, except the
//! changes PostgreSQL makes in the catalog alone: `varchar(n)` to `text`,
//! to unbounded `varchar` or to a longer `varchar`, and `numeric(p,s)` to
//! unconstrained `numeric` or a larger precision with the same scale. keel
//! knows the old type when the files create the column.

use crate::diagnostic::{codes, Code};
use crate::safety::schema::Schema;
use crate::safety::{Finding, Kind, SafetyRule, Target};
use crate::sql::ddl::{Action, Change, Type};

pub struct ChangingColumnType;

/// Whether PostgreSQL changes `from` into `to` without a rewrite.
fn in_place(from: &Type, to: &Type) -> bool {
    match (from, to) {
        _ if from == to => true,
        (Type::Varchar(_), Type::Text | Type::Varchar(None)) => true,
        (Type::Text, Type::Varchar(None)) => true,
        (Type::Varchar(Some(n)), Type::Varchar(Some(m))) => m >= n,
        (Type::Numeric(_), Type::Numeric(None)) => true,
        (Type::Numeric(Some((p, s))), Type::Numeric(Some((q, t)))) => q >= p && t == s,
        _ => false,
    }
}

impl SafetyRule for ChangingColumnType {
    fn id(&self) -> Code {
        codes::CHANGING_COLUMN_TYPE
    }

    fn kind(&self) -> Kind {
        Kind::Lock
    }

    fn check(&self, change: &Change, schema: &Schema) -> Vec<Finding> {
        let Change::Alter {
            table,
            action:
                Action::SetType {
                    column,
                    ty,
                    using,
                    at,
                },
        } = change
        else {
            return Vec::new();
        };
        let old = schema.column_type(table, column);
        if !using && old.is_some_and(|old| in_place(old, ty)) {
            return Vec::new();
        }
        let what = match (old, using) {
            (_, true) => format!("changing the type of {table}.{column} to {ty} with USING"),
            (Some(old), false) => format!("changing {table}.{column} from {old} to {ty}"),
            (None, false) => format!(
                "changing the type of {table}.{column} to {ty} (the files do not say its current type)"
            ),
        };
        vec![Finding::new(
            format!("{what} rewrites the table and its indexes while holding an ACCESS EXCLUSIVE lock: reads and writes wait"),
            "add a column of the new type, fill it in batches and keep it current with a trigger, then switch readers and drop the old column; only varchar(n) to text or a longer varchar, and numeric(p,s) to a larger precision, change in place",
        )
        .at(*at)
        .on(Target::Table(table.clone()))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::fixture::{run, run_applied};

    #[test]
    fn fires_on_a_rewrite() {
        assert_eq!(
            run_applied(
                &ChangingColumnType,
                &["CREATE TABLE t (id int);", "ALTER TABLE t ALTER COLUMN id TYPE bigint;"],
                1
            ),
            ["2:2:28 changing public.t.id from integer to bigint rewrites the table and its indexes while holding an ACCESS EXCLUSIVE lock: reads and writes wait"]
        );
        for (old, new) in [
            ("varchar(20)", "varchar(10)"),
            ("numeric(10,2)", "numeric(12,3)"),
            ("text", "integer"),
        ] {
            let files = [
                format!("CREATE TABLE t (c {old});"),
                format!("ALTER TABLE t ALTER COLUMN c TYPE {new};"),
            ];
            let files: Vec<&str> = files.iter().map(String::as_str).collect();
            assert_eq!(
                run_applied(&ChangingColumnType, &files, 1).len(),
                1,
                "{old} to {new}"
            );
        }
        // USING, and a type the files do not know.
        assert_eq!(
            run(
                &ChangingColumnType,
                &["ALTER TABLE t ALTER COLUMN c TYPE text USING c::text;"]
            )
            .len(),
            1
        );
        assert_eq!(
            run(
                &ChangingColumnType,
                &["ALTER TABLE t ALTER COLUMN c TYPE text;"]
            )
            .len(),
            1
        );
    }

    #[test]
    fn quiet_on_changes_in_place_or_a_table_of_this_run() {
        for (old, new) in [
            ("varchar(20)", "text"),
            ("varchar(20)", "varchar(40)"),
            ("varchar(20)", "varchar"),
            ("numeric(10,2)", "numeric(12,2)"),
            ("numeric(10,2)", "numeric"),
        ] {
            let files = [
                format!("CREATE TABLE t (c {old});"),
                format!("ALTER TABLE t ALTER COLUMN c TYPE {new};"),
            ];
            let files: Vec<&str> = files.iter().map(String::as_str).collect();
            assert!(
                run_applied(&ChangingColumnType, &files, 1).is_empty(),
                "{old} to {new}"
            );
        }
        assert!(run(
            &ChangingColumnType,
            &[
                "CREATE TABLE t (id int);",
                "ALTER TABLE t ALTER COLUMN id TYPE bigint;"
            ]
        )
        .is_empty());
    }
}
