//! Everything that talks to PostgreSQL. The client's methods are denied
//! everywhere else (clippy.toml); this module tree is where they belong.
#![allow(clippy::disallowed_methods)]

pub mod blockers;
pub mod catalog;
pub mod cluster;
pub mod connect;
pub mod conninfo;
pub mod fleet;
pub mod history;
pub mod lock;
pub mod peer_history;
mod pgpass;
pub mod policy;
pub mod policy_live;
pub mod policy_test;
pub mod run;
pub mod scratch;
pub mod server_parse;
pub mod server_version;
pub mod session;
pub mod snapshot;
pub mod statement;
pub mod table_size;
pub mod tls;

/// Something `db/` functions send SQL through: a [`session::Session`], a
/// client or a transaction. Outside `db/` it can only be handed on: the
/// client inside is reached with an [`Inside`], which only `db/` can make.
pub trait Connection {
    type Client: postgres::GenericClient;
    #[doc(hidden)]
    fn client(&mut self, inside: Inside) -> &mut Self::Client;
}

/// Proof that the caller is in `db/`.
pub struct Inside(());

impl<C: postgres::GenericClient> Connection for C {
    type Client = C;
    fn client(&mut self, _: Inside) -> &mut C {
        self
    }
}

/// The client inside `conn`.
fn client<C: Connection>(conn: &mut C) -> &mut C::Client {
    conn.client(Inside(()))
}

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
