//! Identifiers rendered into SQL, quoted exactly when PostgreSQL's own
//! `quote_ident` would quote them.
//!
//! PostgreSQL's rule (`quote_identifier` in `src/backend/utils/adt/ruleutils.c`):
//! a name is left bare only when it is all lower-case ASCII letters, digits
//! and underscores, does not start with a digit, and is not a keyword of any
//! category but `UNRESERVED_KEYWORD` (`src/include/parser/kwlist.h`). Anything
//! else is wrapped in `"` with inner `"` doubled.

/// The keywords `quote_ident` quotes: those of `kwlist.h` whose category is
/// `COL_NAME_KEYWORD`, `TYPE_FUNC_NAME_KEYWORD` or `RESERVED_KEYWORD`.
///
/// Taken from PostgreSQL 15 (`SELECT word FROM pg_get_keywords() WHERE
/// catcode <> 'U'`), plus those PostgreSQL 16 and 17 added (`system_user`,
/// `json` and the `json_*` constructors, `merge_action`; 13, 14 and 18 add
/// none over their neighbours): quoting a name a server does
/// not need quoted still names the same object, leaving one bare that it
/// reserves is a syntax error. Sorted, for the binary search.
const QUOTED_KEYWORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "json",
    "json_array",
    "json_arrayagg",
    "json_exists",
    "json_object",
    "json_objectagg",
    "json_query",
    "json_scalar",
    "json_serialize",
    "json_table",
    "json_value",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "merge_action",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

/// `name` as PostgreSQL's `quote_ident(name)` renders it.
pub fn quote_ident(name: &str) -> String {
    if is_bare(name) {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Whether `name` can be written without quotes and still mean `name`.
pub fn is_bare(name: &str) -> bool {
    let mut bytes = name.bytes();
    let starts_well = bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
    starts_well
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && QUOTED_KEYWORDS.binary_search(&name).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_list_is_sorted_for_the_binary_search() {
        assert!(QUOTED_KEYWORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn keywords_are_quoted_unless_unreserved() {
        // RESERVED_KEYWORD
        for k in [
            "select",
            "order",
            "user",
            "table",
            "from",
            "all",
            "end",
            "current_user",
        ] {
            assert_eq!(quote_ident(k), format!("\"{k}\""), "{k}");
        }
        // COL_NAME_KEYWORD
        for k in [
            "between",
            "int",
            "none",
            "exists",
            "values",
            "xmltable",
            "json_table",
        ] {
            assert_eq!(quote_ident(k), format!("\"{k}\""), "{k}");
        }
        // TYPE_FUNC_NAME_KEYWORD
        for k in [
            "authorization",
            "left",
            "join",
            "like",
            "verbose",
            "collation",
        ] {
            assert_eq!(quote_ident(k), format!("\"{k}\""), "{k}");
        }
        // UNRESERVED_KEYWORD: bare, as quote_ident leaves them.
        for k in [
            "policy", "insert", "commit", "data", "name", "role", "update", "begin",
        ] {
            assert_eq!(quote_ident(k), k, "{k}");
        }
    }

    #[test]
    fn plain_names_stay_bare_and_others_are_quoted() {
        assert_eq!(quote_ident("items"), "items");
        assert_eq!(quote_ident("_x1"), "_x1");
        assert_eq!(quote_ident("orders"), "orders");
        assert_eq!(quote_ident("Items"), "\"Items\"");
        assert_eq!(quote_ident("1x"), "\"1x\"");
        assert_eq!(quote_ident("a b"), "\"a b\"");
        assert_eq!(quote_ident("my\"t"), "\"my\"\"t\"");
        assert_eq!(quote_ident("café"), "\"café\"");
        assert_eq!(quote_ident(""), "\"\"");
        assert_eq!(quote_ident("x$"), "\"x$\"");
    }
}
