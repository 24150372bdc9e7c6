//! Every diagnostic code keel raises, in one place.
//!
//! A code is a [`Code`]: a value only this module makes, so a misspelt code
//! does not compile and `d.code == codes::UNVALIDATED` compares the real
//! thing. Each constant says when it is raised and what fixes it;
//! `docs/diagnostics.md` has the same list as a table (a test keeps the two
//! the same). The codes of `keel policies lint` are the rules' ids
//! (snake_case, Supabase's splinter names where splinter has the rule);
//! `docs/lint.md` has a section per rule with its fix. The codes of the
//! `keel check` safety rules are squawk's rule ids (kebab-case);
//! `docs/safety.md` has a section per rule.

use serde::{Serialize, Serializer};
use std::fmt;

/// A stable diagnostic identifier, printed as its text (e.g.
/// `checksum-mismatch`) in text, JSON and GitHub annotations.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(&'static str);

impl Code {
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

/// Defines the constants and [`ALL`], the list the documentation test reads.
macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $text:literal;)*) => {
        $($(#[$doc])* pub const $name: Code = Code($text);)*
        /// Every code, in the order of this file.
        pub const ALL: &[Code] = &[$($name),*];
    };
}

codes! {
    // Files and folders.

    /// A file or folder cannot be read (permissions, a link leaving the
    /// folder, a broken entry, a file over 1 GiB). Fix: fix its permissions,
    /// or remove or replace the entry.
    UNREADABLE = "unreadable";
    /// A file changed on disk after keel checked it and before it ran. Fix:
    /// finish the edit (and `keel seal`), then run the command again.
    CHANGED_DURING_RUN = "changed-during-run";
    /// A file in `up/` or `down/` is not named `NNNN_name.sql`. Fix: rename
    /// it as the hint says.
    BAD_FILE_NAME = "bad-file-name";
    /// Two up (or two down) files have the same version. Fix: renumber one.
    DUPLICATE_VERSION = "duplicate-version";
    /// An up file has no down file of the same version. Fix: add the down
    /// file (empty with `-- keel:irreversible` if it cannot be undone).
    MISSING_DOWN = "missing-down";
    /// A down file has no up file of the same version. Fix: add the up
    /// file, or delete the down file.
    MISSING_UP = "missing-up";
    /// A file or folder in the migrations folder that keel does not use.
    /// Fix: move it out of the folder.
    STRAY_FILE = "stray-file";
    /// A file is not valid UTF-8. Fix: save it as UTF-8.
    NOT_UTF8 = "not-utf8";
    /// A file contains a NUL byte, which PostgreSQL cannot carry. Fix:
    /// remove it; write binary data as a bytea literal.
    NUL_BYTE = "nul-byte";

    // Headers and checksums.

    /// An up or down file has no `-- keel:checksum` header. Fix: `keel seal`.
    MISSING_CHECKSUM = "missing-checksum";
    /// The body no longer matches the checksum in the header. Fix: review
    /// the edit, then `keel seal`.
    CHECKSUM_MISMATCH = "checksum-mismatch";
    /// A `-- keel:` header key keel does not know. Fix: correct or remove it.
    UNKNOWN_HEADER_KEY = "unknown-header-key";
    /// A header key with a value it does not take. Fix: use a value the
    /// hint lists.
    BAD_HEADER_VALUE = "bad-header-value";
    /// A header key given twice. Fix: keep one.
    DUPLICATE_HEADER_KEY = "duplicate-header-key";
    /// A header key in a kind of file it does not belong to. Fix:
    /// `irreversible` is for down files, `requires` for policy files,
    /// `transaction` for migrations, `allow` for up files.
    MISPLACED_HEADER_KEY = "misplaced-header-key";
    /// A `-- keel:` line below the header, which is only a comment (the header
    /// ends at the first other line). Fix: move it up into the header, or
    /// remove it.
    STRAY_HEADER_LINE = "stray-header-line";

    // Statements.

    /// An up file without statements. Fix: write its SQL, or delete the pair.
    EMPTY_UP = "empty-up";
    /// A down file without statements (a warning: downgrading through it
    /// does nothing). Fix: write the SQL that undoes the up file, or mark
    /// it `-- keel:irreversible`.
    EMPTY_DOWN = "empty-down";
    /// A down file marked `-- keel:irreversible` has statements. Fix: empty
    /// its body, or drop the mark.
    IRREVERSIBLE_NOT_EMPTY = "irreversible-not-empty";
    /// A statement does not parse (sqlparser, or PostgreSQL's parser when
    /// checked with a database). Fix: correct the SQL.
    SYNTAX_ERROR = "syntax-error";
    /// A statement no parser could validate: a warning, an error under
    /// `--strict`. Fix: check it is valid PostgreSQL (`keel check` with a
    /// database uses the server's parser), or drop `--strict`.
    UNVALIDATED = "unvalidated";
    /// An expression nests deeper than keel reads. Fix: split it (a CTE, a
    /// function, `IN (...)` instead of a long chain of `OR`).
    TOO_DEEP = "too-deep";
    /// A string literal is not closed. Fix: close it with `'`.
    UNTERMINATED_STRING = "unterminated-string";
    /// A quoted identifier is not closed. Fix: close it with `"`.
    UNTERMINATED_IDENTIFIER = "unterminated-identifier";
    /// A dollar-quoted body is not closed. Fix: close it with its delimiter.
    UNTERMINATED_DOLLAR_QUOTE = "unterminated-dollar-quote";
    /// A `/*` comment is not closed. Fix: close it with `*/` (they nest).
    UNTERMINATED_COMMENT = "unterminated-comment";
    /// A psql `\` meta-command in a file keel runs as SQL. Fix: remove it or
    /// write it as SQL.
    PSQL_META_COMMAND = "psql-meta-command";
    /// `BEGIN`, `COMMIT`, `ROLLBACK` or the like in a transactional
    /// migration or a policy test. Fix: remove it, or give the migration
    /// `-- keel:transaction off`.
    TRANSACTION_CONTROL = "transaction-control";
    /// A statement that cannot run inside a transaction block (e.g. `CREATE
    /// INDEX CONCURRENTLY`) in a transactional migration. Fix: add
    /// `-- keel:transaction off` to the file.
    NEEDS_TRANSACTION_OFF = "needs-transaction-off";
    /// A new enum value used in the transaction that adds it (a warning).
    /// Fix: add the value in a `-- keel:transaction off` migration, or use
    /// it in a later migration.
    ENUM_VALUE_IN_SAME_TRANSACTION = "enum-value-in-same-transaction";
    /// PostgreSQL refused a statement while it ran; the server's DETAIL and
    /// HINT are shown. Fix: correct the statement.
    STATEMENT_FAILED = "statement-failed";

    // The database against the files.

    /// An applied version has no file on disk. Fix: restore the files from
    /// version control (`keel history --verbose` shows what was applied).
    APPLIED_FILE_MISSING = "applied-file-missing";
    /// An applied migration was edited after it ran. Fix: restore the file,
    /// or accept the edit with `keel repair VERSION`.
    APPLIED_FILE_CHANGED = "applied-file-changed";
    /// An applied version's files now have another name than the one it was
    /// applied under (a warning: the SQL is the same). Fix: rename the files
    /// back, or record the new name with `keel repair VERSION`.
    APPLIED_FILE_RENAMED = "applied-file-renamed";
    /// A migration outside a transaction did not finish: the database is
    /// dirty. Fix: finish it by hand and `keel repair VERSION` (recorded as
    /// done), or undo what ran and `keel repair VERSION --undone`.
    DIRTY = "dirty";
    /// A pending version is older than the newest applied one. Fix: give it
    /// a version above the newest applied one, or downgrade to the version
    /// before it and upgrade again (which applies them all in order).
    OUT_OF_ORDER = "out-of-order";
    /// `keel check --up-to-date`: versions are pending. Fix: `keel upgrade
    /// head`.
    NOT_UP_TO_DATE = "not-up-to-date";
    /// Versions are pending (a warning). Fix: `keel upgrade head`.
    PENDING = "pending";
    /// An index is INVALID, left by a failed `CREATE INDEX CONCURRENTLY`.
    /// Fix: drop it and create it again.
    INVALID_INDEX = "invalid-index";

    // Declared policies.

    /// A policy file holds something other than RLS switches, policies and
    /// their comments. Fix: move it to a migration.
    POLICY_FILE_STATEMENT = "policy-file-statement";
    /// A policy's name or table cannot be read. Fix: write it as a plain
    /// `CREATE POLICY name ON table ...` or `COMMENT ON POLICY`.
    POLICY_UNREADABLE = "policy-unreadable";
    /// A table's policies are declared in two files. Fix: declare each
    /// table's policies in one file.
    POLICY_TABLE_DECLARED_TWICE = "policy-table-declared-twice";
    /// The same policy is declared twice. Fix: keep one declaration.
    POLICY_DECLARED_TWICE = "policy-declared-twice";
    /// `COMMENT ON POLICY` for a policy the file does not declare. Fix:
    /// comment a policy declared in the same file.
    POLICY_COMMENT_ORPHAN = "policy-comment-orphan";
    /// The database's policies differ from the declarations. Fix: `keel
    /// policies status` shows how; `keel policies apply` restores them.
    POLICY_DRIFT = "policy-drift";
    /// A policy expression nests deeper than lint reads. Fix: rewrite it
    /// with a shallower expression.
    POLICY_TOO_DEEP = "policy-too-deep";
    /// A policy test failed: a statement raised an error. Fix: the policy
    /// or the test.
    POLICY_TEST_FAILED = "policy-test-failed";
    /// A policy test never switches role while keel is a superuser or
    /// BYPASSRLS role, so it can never fail. Fix: `SET LOCAL ROLE` to the
    /// application's role first.
    POLICY_TEST_BYPASSES_RLS = "policy-test-bypasses-rls";

    // `keel import`: another tool's migrations.

    /// A source migration's version cannot be a keel version (a Flyway
    /// version with dots or underscores, or more than 20 digits). Fix:
    /// renumber the source migrations with whole numbers, in the same order,
    /// then import again.
    IMPORT_VERSION = "import-version";
    /// A source file cannot be read as the tool's migration (a down file
    /// without its up file, a dbmate file without `-- migrate:up`, a diesel
    /// folder without `up.sql`, an unreadable `metadata.toml`, an Alembic
    /// history that branches or merges). Fix: correct
    /// the source folder as the message says.
    IMPORT_LAYOUT = "import-layout";
    /// A version being imported already has a file in `up/` or `down/`.
    /// Fix: import into a folder without these versions; keel import never
    /// overwrites.
    IMPORT_TARGET_EXISTS = "import-target-exists";
    /// A statement that cannot run in a transaction block sits inside the
    /// source file's own `BEGIN` ... `COMMIT`. Fix: take it out of the block
    /// in the source file (PostgreSQL refuses it there too).
    IMPORT_TRANSACTION_BLOCK = "import-transaction-block";
    /// The source tool keel runs to read the migrations (Alembic, in the
    /// project's Python) is missing or failed. Fix: install it where the
    /// project runs it, or point `KEEL_PYTHON` at that Python.
    IMPORT_TOOL = "import-tool";

    // `keel adopt`: another tool's history table. Any error refuses the
    // adoption and nothing is written.

    /// The tool's history table is not in the database, or is not the
    /// tool's (a column missing, golang-migrate's `dirty` column under
    /// dbmate, more than one golang-migrate row). Fix: check the database
    /// URL, or name the table with `--table SCHEMA.TABLE`.
    ADOPT_TABLE = "adopt-table";
    /// The tool's history records a migration that did not finish: a
    /// golang-migrate `dirty` row, a sqlx row with `success = false`, a
    /// failed Flyway row. Fix: repair it with the tool first, then adopt.
    ADOPT_UNFINISHED = "adopt-unfinished";
    /// A version in the tool's history cannot be a keel version (a Flyway
    /// version with parts, a negative or non-numeric version, several
    /// Alembic heads or one named by several keel files). Fix: as the
    /// message says, then adopt again.
    ADOPT_VERSION = "adopt-version";
    /// The database is ahead of the files: the tool applied versions newer
    /// than the newest keel migration. Fix: import the newer migrations
    /// first.
    ADOPT_AHEAD = "adopt-ahead";
    /// The tool applied a version that has no keel migration. Fix: import it
    /// or restore its files.
    ADOPT_MISSING_FILE = "adopt-missing-file";
    /// keel's own history records a version as applied that the tool's does
    /// not, although the tool went past it. Fix: make the two histories
    /// agree, then adopt.
    ADOPT_CONFLICT = "adopt-conflict";
    /// A checksum the tool recorded (sqlx's SHA-384, Flyway's CRC32) differs
    /// from the original file's: the file changed after the tool applied it.
    /// A warning with `--accept-checksum-mismatch`. Fix: restore the file,
    /// or adopt anyway with `--accept-checksum-mismatch`.
    ADOPT_CHECKSUM = "adopt-checksum";

    // `keel policies lint` rules: `docs/lint.md` has each one's fix.

    /// A table in an exposed schema without Row Level Security.
    RLS_DISABLED_IN_PUBLIC = "rls_disabled_in_public";
    /// RLS is on but the table has no policy: it is closed to everyone.
    RLS_ENABLED_NO_POLICY = "rls_enabled_no_policy";
    /// Policies exist but RLS is off, so PostgreSQL ignores them.
    POLICY_EXISTS_RLS_DISABLED = "policy_exists_rls_disabled";
    /// RLS is enabled but not forced: the table's owner bypasses it.
    RLS_NOT_FORCED = "rls_not_forced";
    /// A policy reads its own table (or a cycle of tables) through RLS.
    POLICY_RECURSION = "policy_recursion";
    /// A policy whose expression is always true.
    RLS_POLICY_ALWAYS_TRUE = "rls_policy_always_true";
    /// A policy that applies to PUBLIC (every role).
    POLICY_APPLIES_TO_PUBLIC = "policy_applies_to_public";
    /// `auth.uid()` and the like evaluated per row rather than once.
    AUTH_RLS_INITPLAN = "auth_rls_initplan";
    /// A tenant column policies filter on has no index.
    UNINDEXED_TENANT_COLUMN = "unindexed_tenant_column";
    /// A SECURITY DEFINER function without a fixed `search_path`.
    FUNCTION_SEARCH_PATH_MUTABLE = "function_search_path_mutable";
    /// Several permissive policies for the same role and command.
    MULTIPLE_PERMISSIVE_POLICIES = "multiple_permissive_policies";
    /// An INSERT or UPDATE policy without `WITH CHECK`.
    WRITE_POLICY_WITHOUT_CHECK = "write_policy_without_check";
    /// A view that runs with its owner's rights, bypassing RLS.
    SECURITY_DEFINER_VIEW = "security_definer_view";
    /// The application's role bypasses RLS (live only).
    BYPASSRLS_APP_ROLE = "bypassrls_app_role";

    // `keel check` safety lint: allow lines.

    /// A `-- keel:allow` line names no rule, an unknown rule, or gives no
    /// reason. Fix: `-- keel:allow <rule-id> <reason>` with an id of
    /// `docs/safety.md`.
    BAD_ALLOW = "bad-allow";
    /// A `-- keel:allow` line whose rule does not match its statement (or,
    /// in the header, any statement of the file). Fix: remove it, or name
    /// the rule that matches.
    UNUSED_ALLOW = "unused-allow";

    // `keel check` safety rules: squawk's ids; `docs/safety.md` has each
    // one's reason and safe rewrite.

    /// `CREATE INDEX` without `CONCURRENTLY` on an existing table.
    REQUIRE_CONCURRENT_INDEX_CREATION = "require-concurrent-index-creation";
    /// `DROP INDEX` without `CONCURRENTLY` on an existing table.
    REQUIRE_CONCURRENT_INDEX_DELETION = "require-concurrent-index-deletion";
    /// A CHECK constraint added without `NOT VALID`, or validated in the
    /// transaction that added it.
    CONSTRAINT_MISSING_NOT_VALID = "constraint-missing-not-valid";
    /// A foreign key added to an existing table without `NOT VALID`.
    ADDING_FOREIGN_KEY_CONSTRAINT = "adding-foreign-key-constraint";
    /// `SET NOT NULL` without a validated `CHECK (col IS NOT NULL)`.
    ADDING_NOT_NULLABLE_FIELD = "adding-not-nullable-field";
    /// A column added with a volatile default (or identity, serial, stored
    /// generated): the table is rewritten.
    ADDING_FIELD_WITH_DEFAULT = "adding-field-with-default";
    /// A column's type changed in a way that rewrites the table.
    CHANGING_COLUMN_TYPE = "changing-column-type";
    /// A column of an existing table renamed.
    RENAMING_COLUMN = "renaming-column";
    /// An existing table renamed.
    RENAMING_TABLE = "renaming-table";
    /// A column of an existing table dropped.
    BAN_DROP_COLUMN = "ban-drop-column";
    /// An existing table dropped.
    BAN_DROP_TABLE = "ban-drop-table";
    /// A UNIQUE constraint added to an existing table without `USING INDEX`.
    DISALLOWED_UNIQUE_CONSTRAINT = "disallowed-unique-constraint";
    /// A primary key added to an existing table without `USING INDEX`.
    ADDING_SERIAL_PRIMARY_KEY_FIELD = "adding-serial-primary-key-field";
    /// An `int` (or `serial`) column.
    PREFER_BIGINT_OVER_INT = "prefer-bigint-over-int";
    /// A `serial` column rather than an identity column.
    PREFER_IDENTITY = "prefer-identity";
    /// A `timestamp` column without time zone.
    PREFER_TIMESTAMPTZ = "prefer-timestamptz";
    /// A `varchar(n)` column.
    PREFER_TEXT_FIELD = "prefer-text-field";
    /// A `char(n)` column.
    BAN_CHAR_FIELD = "ban-char-field";
}

/// The ids of the safety rules, in the order of `docs/safety.md` (the
/// safety lint's rule list is checked against it): what `-- keel:allow` and
/// `[safety.rules]` in `keel.toml` accept.
pub const SAFETY_RULES: &[Code] = &[
    REQUIRE_CONCURRENT_INDEX_CREATION,
    REQUIRE_CONCURRENT_INDEX_DELETION,
    CONSTRAINT_MISSING_NOT_VALID,
    ADDING_FOREIGN_KEY_CONSTRAINT,
    ADDING_NOT_NULLABLE_FIELD,
    ADDING_FIELD_WITH_DEFAULT,
    CHANGING_COLUMN_TYPE,
    DISALLOWED_UNIQUE_CONSTRAINT,
    ADDING_SERIAL_PRIMARY_KEY_FIELD,
    RENAMING_COLUMN,
    RENAMING_TABLE,
    BAN_DROP_COLUMN,
    BAN_DROP_TABLE,
    PREFER_BIGINT_OVER_INT,
    PREFER_IDENTITY,
    PREFER_TIMESTAMPTZ,
    PREFER_TEXT_FIELD,
    BAN_CHAR_FIELD,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        let mut all = ALL.to_vec();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), ALL.len());
    }
}
