//! `adding-field-with-default` (lock): `ADD COLUMN` whose value PostgreSQL
//! must compute for every existing row rewrites the whole table under an
//! ACCESS EXCLUSIVE lock: a volatile default (`gen_random_uuid()`,
//! `clock_timestamp()`, a serial's `nextval()`), an identity column, or a
//! stored generated column. A constant or stable default (`0`, `now()`) is
//! stored once in the catalog since PostgreSQL 11 and is fine.

use crate::diagnostic::{codes, Code};
use crate::safety::schema::Schema;
use crate::safety::{Finding, Kind, SafetyRule, Target};
use crate::sql::ddl::{Action, Change, Default};

pub struct AddingFieldWithDefault;

impl SafetyRule for AddingFieldWithDefault {
    fn id(&self) -> Code {
        codes::ADDING_FIELD_WITH_DEFAULT
    }

    fn kind(&self) -> Kind {
        Kind::Lock
    }

    fn check(&self, change: &Change, _: &Schema) -> Vec<Finding> {
        let Change::Alter {
            table,
            action: Action::AddColumn(c),
        } = change
        else {
            return Vec::new();
        };
        let Some(added) = &c.added else {
            return Vec::new();
        };
        let why = match &added.default {
            Some(Default::Volatile { function, known: true }) => {
                format!("its default calls {function}(), which is volatile")
            }
            Some(Default::Volatile { function, known: false }) => format!(
                "its default calls {function}(), which keel cannot tell is not volatile (if it is IMMUTABLE or STABLE, allow this)"
            ),
            _ if c.ty.is_serial() => format!("it is {}, whose default nextval() is volatile", c.ty),
            _ if added.identity => "it is an identity column".to_string(),
            _ if added.stored => "it is a stored generated column".to_string(),
            _ => return Vec::new(),
        };
        vec![Finding::new(
            format!("adding column {} rewrites every row of {table} while holding an ACCESS EXCLUSIVE lock: {why}", c.name),
            "add the column with no default or a constant one, `ALTER TABLE ... ALTER COLUMN ... SET DEFAULT ...` for new rows (no rewrite), then fill existing rows in batches",
        )
        .at(c.at)
        .on(Target::Table(table.clone()))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::fixture::run;

    #[test]
    fn fires_on_defaults_computed_per_row() {
        assert_eq!(
            run(&AddingFieldWithDefault, &["ALTER TABLE items ADD COLUMN token uuid DEFAULT gen_random_uuid();"]),
            ["1:2:30 adding column token rewrites every row of public.items while holding an ACCESS EXCLUSIVE lock: its default calls gen_random_uuid(), which is volatile"]
        );
        for column in [
            "n bigserial",
            "id bigint GENERATED ALWAYS AS IDENTITY",
            "total numeric GENERATED ALWAYS AS (price * qty) STORED",
            "seen timestamptz DEFAULT clock_timestamp()",
            "x text DEFAULT my_function()",
        ] {
            let sql = format!("ALTER TABLE items ADD COLUMN {column};");
            assert_eq!(
                run(&AddingFieldWithDefault, &[sql.as_str()]).len(),
                1,
                "{column}"
            );
        }
    }

    #[test]
    fn quiet_on_constant_and_stable_defaults_or_a_table_of_this_run() {
        for column in [
            "n int NOT NULL DEFAULT 0",
            "at timestamptz DEFAULT now()",
            "tags text[] DEFAULT '{}'",
            "state text DEFAULT 'new'::text",
            "note text",
        ] {
            let sql = format!("ALTER TABLE items ADD COLUMN {column};");
            assert!(
                run(&AddingFieldWithDefault, &[sql.as_str()]).is_empty(),
                "{column}"
            );
        }
        assert!(run(
            &AddingFieldWithDefault,
            &[
                "CREATE TABLE items (a int);",
                "ALTER TABLE items ADD COLUMN t uuid DEFAULT gen_random_uuid();"
            ]
        )
        .is_empty());
    }
}
