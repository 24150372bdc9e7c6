//! Everything that talks to PostgreSQL.

pub mod cluster;
pub mod connect;
pub mod history;
pub mod lock;
mod pgpass;
pub mod run;
pub mod server_parse;
pub mod statement;
pub mod tls;

/// A database-side failure with the context it happened in.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{context}: {message}")]
    Query { context: String, message: String },
    #[error("the history schema `{schema}` was written by a newer keel (schema version {found}; this keel knows up to {known})")]
    NewerHistory {
        schema: String,
        found: i64,
        known: i64,
    },
    #[error("{0}")]
    Other(String),
}

impl DbError {
    pub fn query(context: &str, e: &postgres::Error) -> DbError {
        DbError::Query {
            context: context.to_string(),
            message: connect::error_text(e),
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            DbError::NewerHistory { .. } => Some(
                "upgrade keel; this version will not touch a history it does not understand"
                    .to_string(),
            ),
            _ => None,
        }
    }
}
