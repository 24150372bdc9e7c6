//! What the history records, as plain values: the direction of a step and
//! an applied version. Below both the planner and `db::history`, which
//! reads and writes them.

use crate::project::Version;

/// Which way a step goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    /// `up` or `down`, as history records it.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }

    /// The inverse of [`Direction::as_str`].
    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "up" => Some(Direction::Up),
            "down" => Some(Direction::Down),
            _ => None,
        }
    }
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One applied version as recorded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AppliedVersion {
    #[serde(serialize_with = "version_digits")]
    pub version: Version,
    pub name: String,
    pub up_checksum: String,
    pub down_checksum: String,
    #[serde(skip)]
    pub up_sql: String,
    #[serde(skip)]
    pub down_sql: String,
    pub irreversible: bool,
    pub applied_at: String,
    pub applied_by: String,
    pub client_host: Option<String>,
    pub duration_ms: Option<f64>,
    pub keel_version: String,
    pub dirty: bool,
    pub dirty_direction: Option<Direction>,
    pub dirty_statement: Option<i32>,
}

fn version_digits<S: serde::Serializer>(v: &Version, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.digits())
}
