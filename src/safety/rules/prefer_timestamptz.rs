//! `prefer-timestamptz` (style): `timestamp` without time zone stores a
//! wall-clock reading with no zone: the same value means different instants
//! for sessions in different zones, and daylight saving makes some ambiguous.

use crate::diagnostic::{codes, Code};
use crate::safety::schema::Schema;
use crate::safety::{typed_columns, Finding, Kind, SafetyRule};
use crate::sql::ddl::{Change, Type};

pub struct PreferTimestamptz;

impl SafetyRule for PreferTimestamptz {
    fn id(&self) -> Code {
        codes::PREFER_TIMESTAMPTZ
    }

    fn kind(&self) -> Kind {
        Kind::Style
    }

    fn check(&self, change: &Change, _: &Schema) -> Vec<Finding> {
        typed_columns(change)
            .filter(|(_, ty, _)| **ty == Type::Timestamp)
            .map(|(name, _, at)| {
                Finding::new(
                    format!("column {name} is timestamp without time zone: its values are not instants, and depend on each session's zone"),
                    "use timestamptz (it stores an instant, in UTC, and takes no more space)",
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
    fn fires_on_timestamp_without_time_zone() {
        assert_eq!(
            run(&PreferTimestamptz, &["ALTER TABLE t ADD COLUMN seen timestamp;"]),
            ["1:2:26 column seen is timestamp without time zone: its values are not instants, and depend on each session's zone"]
        );
        assert_eq!(
            run(
                &PreferTimestamptz,
                &["CREATE TABLE t (a timestamp(3) without time zone);"]
            )
            .len(),
            1
        );
    }

    #[test]
    fn quiet_on_timestamptz() {
        assert!(run(
            &PreferTimestamptz,
            &["CREATE TABLE t (a timestamptz, b timestamp with time zone, c date);"]
        )
        .is_empty());
    }
}
