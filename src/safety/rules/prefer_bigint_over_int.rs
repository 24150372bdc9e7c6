//! `prefer-bigint-over-int` (style): a 32-bit `integer` (or `serial`)
//! overflows at 2,147,483,647, and widening it later rewrites the table.

use crate::diagnostic::{codes, Code};
use crate::safety::schema::Schema;
use crate::safety::{typed_columns, Finding, Kind, SafetyRule};
use crate::sql::ddl::{Change, Type};

pub struct PreferBigintOverInt;

impl SafetyRule for PreferBigintOverInt {
    fn id(&self) -> Code {
        codes::PREFER_BIGINT_OVER_INT
    }

    fn kind(&self) -> Kind {
        Kind::Style
    }

    fn check(&self, change: &Change, _: &Schema) -> Vec<Finding> {
        typed_columns(change)
            .filter(|(_, ty, _)| matches!(ty, Type::Int | Type::Serial))
            .map(|(name, ty, at)| {
                let wide = if *ty == Type::Serial { "bigserial (better: bigint GENERATED ALWAYS AS IDENTITY)" } else { "bigint" };
                Finding::new(
                    format!("column {name} is {ty}, 32 bits: it overflows at 2,147,483,647, and widening it later rewrites the table"),
                    format!("use {wide}: 4 more bytes a row"),
                )
                .at(at)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::fixture::run;

    #[test]
    fn fires_on_int_and_serial_columns_new_tables_included() {
        assert_eq!(
            run(&PreferBigintOverInt, &["CREATE TABLE t (id serial, n integer, m int4);"]),
            [
                "1:2:17 column id is serial, 32 bits: it overflows at 2,147,483,647, and widening it later rewrites the table",
                "1:2:28 column n is integer, 32 bits: it overflows at 2,147,483,647, and widening it later rewrites the table",
                "1:2:39 column m is integer, 32 bits: it overflows at 2,147,483,647, and widening it later rewrites the table",
            ]
        );
        assert_eq!(
            run(&PreferBigintOverInt, &["ALTER TABLE t ADD COLUMN n int;"]).len(),
            1
        );
    }

    #[test]
    fn quiet_on_bigint() {
        assert!(run(
            &PreferBigintOverInt,
            &["CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY, n bigserial, s smallint);"]
        )
        .is_empty());
    }
}
