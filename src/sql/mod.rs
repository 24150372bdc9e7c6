//! SQL text: the exact PostgreSQL statement splitter and sqlparser validation.

pub mod ident;
pub mod parse;
pub mod rules;
pub mod split;
pub mod validate;
