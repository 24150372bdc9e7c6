//! `ban-char-field` (style): `char(n)` pads every value with spaces to `n`
//! characters, compares ignoring them, and is no faster than `text`.

use crate::diagnostic::{codes, Code};
use crate::safety::schema::Schema;
use crate::safety::{typed_columns, Finding, Kind, SafetyRule};
use crate::sql::ddl::{Change, Type};

pub struct BanCharField;

impl SafetyRule for BanCharField {
    fn id(&self) -> Code {
        codes::BAN_CHAR_FIELD
    }

    fn kind(&self) -> Kind {
        Kind::Style
    }

    fn check(&self, change: &Change, _: &Schema) -> Vec<Finding> {
        typed_columns(change)
            .filter_map(|(name, ty, at)| match ty {
                Type::Char(n) => Some(
                    Finding::new(
                        format!("column {name} is char({n}): values are padded with spaces, which comparisons then ignore"),
                        format!("use text (with `CHECK (length({name}) = {n})` for a fixed length)"),
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
    fn fires_on_char() {
        assert_eq!(
            run(&BanCharField, &["CREATE TABLE t (code char(3), flag character);"]),
            [
                "1:2:17 column code is char(3): values are padded with spaces, which comparisons then ignore",
                "1:2:31 column flag is char(1): values are padded with spaces, which comparisons then ignore",
            ]
        );
    }

    #[test]
    fn quiet_on_text_and_varchar() {
        assert!(run(
            &BanCharField,
            &["CREATE TABLE t (a text, b varchar(3), c \"char\");"]
        )
        .is_empty());
    }
}
