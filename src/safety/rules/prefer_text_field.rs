//! `prefer-text-field` (style): `varchar(n)` is `text` with a length check
//! that can only be relaxed by `ALTER COLUMN ... TYPE` (in place when it
//! grows, a rewrite when it shrinks); a CHECK constraint says the same and
//! can be replaced without touching the table.

use crate::diagnostic::{codes, Code};
use crate::safety::schema::Schema;
use crate::safety::{typed_columns, Finding, Kind, SafetyRule};
use crate::sql::ddl::{Change, Type};

pub struct PreferTextField;

impl SafetyRule for PreferTextField {
    fn id(&self) -> Code {
        codes::PREFER_TEXT_FIELD
    }

    fn kind(&self) -> Kind {
        Kind::Style
    }

    fn check(&self, change: &Change, _: &Schema) -> Vec<Finding> {
        typed_columns(change)
            .filter_map(|(name, ty, at)| match ty {
                Type::Varchar(Some(n)) => Some(
                    Finding::new(
                        format!("column {name} is varchar({n}): changing the limit later means ALTER COLUMN ... TYPE"),
                        format!("use text, with `CHECK (length({name}) <= {n})` if the limit matters (a CHECK can be replaced NOT VALID, without a rewrite)"),
                    )
                    .at(at),
                ),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::fixture::run;

    #[test]
    fn fires_on_varchar_with_a_length() {
        assert_eq!(
            run(&PreferTextField, &["CREATE TABLE t (email varchar(255));"]),
            ["1:2:17 column email is varchar(255): changing the limit later means ALTER COLUMN ... TYPE"]
        );
    }

    #[test]
    fn quiet_on_text_and_unbounded_varchar() {
        assert!(run(
            &PreferTextField,
            &["CREATE TABLE t (a text, b varchar, c character varying);"]
        )
        .is_empty());
    }
}
