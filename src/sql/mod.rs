//! SQL text: the exact PostgreSQL statement splitter and sqlparser validation.

pub mod check;
pub mod ddl;
pub mod ident;
pub mod parse;
pub mod relations;
pub mod rules;
pub mod split;
