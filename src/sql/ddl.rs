//! What a DDL statement does to tables, read from sqlparser's tree while
//! [`super::check::check_file`] holds it: the facts the safety lint
//! (`crate::safety`) judges, so that it never parses a statement again.
//!
//! A statement becomes zero or more [`Change`]s (`ALTER TABLE` with three
//! actions is three). Everything else a statement says is dropped with the
//! tree: the changes are small, and most statements (INSERT, SELECT,
//! functions, grants) have none.

use crate::policies::model::{fold, TableName};
use sqlparser::ast::{
    AlterColumnOperation, AlterTableOperation, BinaryOperator, CharacterLength, ColumnDef,
    ColumnOption, DataType, ExactNumberInfo, Expr, FunctionArg, FunctionArgExpr, FunctionArguments,
    GeneratedExpressionMode, Ident, ObjectName, ObjectType, RenameTableNameKind, Statement,
    TableConstraint, TimezoneInfo,
};

/// A place in a statement, as sqlparser counts it: 1-based line and column
/// within the statement's text.
pub type Loc = (u32, u32);

/// A column type, as far as the safety rules tell types apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    SmallInt,
    Int,
    BigInt,
    SmallSerial,
    Serial,
    BigSerial,
    /// `timestamp [without time zone]`.
    Timestamp,
    Timestamptz,
    /// `varchar(n)`, or unbounded `varchar`.
    Varchar(Option<u64>),
    Text,
    /// `char(n)` (`char` alone is `char(1)`).
    Char(u64),
    /// `numeric(precision, scale)`, or unconstrained `numeric`.
    Numeric(Option<(u64, i64)>),
    /// Any other type, as sqlparser prints it.
    Other(String),
}

impl Type {
    /// The type of a column definition.
    pub fn of(t: &DataType) -> Type {
        let length = |l: &Option<CharacterLength>| match l {
            Some(CharacterLength::IntegerLength { length, .. }) => Some(*length),
            _ => None,
        };
        let numeric = |n: &ExactNumberInfo| match n {
            ExactNumberInfo::None => Type::Numeric(None),
            ExactNumberInfo::Precision(p) => Type::Numeric(Some((*p, 0))),
            ExactNumberInfo::PrecisionAndScale(p, s) => Type::Numeric(Some((*p, *s))),
        };
        match t {
            DataType::SmallInt(_) | DataType::Int2(_) => Type::SmallInt,
            DataType::Int(_) | DataType::Integer(_) | DataType::Int4(_) => Type::Int,
            DataType::BigInt(_) | DataType::Int8(_) => Type::BigInt,
            DataType::Timestamp(_, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone) => {
                Type::Timestamp
            }
            DataType::Timestamp(_, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz) => {
                Type::Timestamptz
            }
            DataType::Varchar(l) | DataType::CharacterVarying(l) | DataType::CharVarying(l) => {
                Type::Varchar(length(l))
            }
            DataType::Text => Type::Text,
            DataType::Char(l) | DataType::Character(l) => Type::Char(length(l).unwrap_or(1)),
            DataType::Numeric(n) | DataType::Decimal(n) | DataType::Dec(n) => numeric(n),
            DataType::Custom(name, modifiers) => {
                let last = name
                    .0
                    .last()
                    .and_then(|p| p.as_ident())
                    .map(fold)
                    .unwrap_or_default();
                match last.as_str() {
                    "serial" | "serial4" => Type::Serial,
                    "bigserial" | "serial8" => Type::BigSerial,
                    "smallserial" | "serial2" => Type::SmallSerial,
                    "timestamptz" => Type::Timestamptz,
                    "int4" => Type::Int,
                    "int2" => Type::SmallInt,
                    "int8" => Type::BigInt,
                    "bpchar" => Type::Char(
                        modifiers
                            .first()
                            .and_then(|m| m.to_string().parse().ok())
                            .unwrap_or(1),
                    ),
                    _ => Type::Other(t.to_string()),
                }
            }
            other => Type::Other(other.to_string()),
        }
    }

    /// Whether a value of this type gets its default from a sequence.
    pub fn is_serial(&self) -> bool {
        matches!(self, Type::SmallSerial | Type::Serial | Type::BigSerial)
    }
}

impl std::fmt::Display for Type {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Type::SmallInt => f.write_str("smallint"),
            Type::Int => f.write_str("integer"),
            Type::BigInt => f.write_str("bigint"),
            Type::SmallSerial => f.write_str("smallserial"),
            Type::Serial => f.write_str("serial"),
            Type::BigSerial => f.write_str("bigserial"),
            Type::Timestamp => f.write_str("timestamp"),
            Type::Timestamptz => f.write_str("timestamptz"),
            Type::Varchar(None) => f.write_str("varchar"),
            Type::Varchar(Some(n)) => write!(f, "varchar({n})"),
            Type::Text => f.write_str("text"),
            Type::Char(n) => write!(f, "char({n})"),
            Type::Numeric(None) => f.write_str("numeric"),
            Type::Numeric(Some((p, s))) => write!(f, "numeric({p},{s})"),
            Type::Other(t) => f.write_str(&t.to_lowercase()),
        }
    }
}

/// What a column's `DEFAULT` costs when the column is added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Default {
    /// Constants and functions PostgreSQL evaluates once (`now()`): since
    /// PostgreSQL 11 the value is stored in the catalog, no row is written.
    Stable,
    /// It calls this function, which is volatile (`random()`), or which
    /// keel does not know (a user's function may be): every row is written.
    Volatile { function: String, known: bool },
}

/// One column as a statement defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ty: Type,
    /// Where its name is written.
    pub at: Option<Loc>,
    /// For `ADD COLUMN` only: what filling the existing rows costs. (In
    /// `CREATE TABLE` there are no rows; the columns of every table the
    /// files create are kept, so they are kept small.)
    pub added: Option<Box<Added>>,
}

/// What PostgreSQL writes into the existing rows for an added column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    pub default: Option<Default>,
    /// `GENERATED ... AS IDENTITY`.
    pub identity: bool,
    /// `GENERATED ALWAYS AS (...) STORED`.
    pub stored: bool,
}

/// A constraint a statement adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    pub name: Option<String>,
    pub kind: ConstraintKind,
    pub not_valid: bool,
    pub at: Option<Loc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConstraintKind {
    /// The columns a `CHECK` proves not null (`col IS NOT NULL`, alone or
    /// in a chain of `AND`).
    Check {
        not_null: Vec<String>,
    },
    ForeignKey {
        references: Option<TableName>,
    },
    /// `UNIQUE`; `using_index` for `UNIQUE USING INDEX`.
    Unique {
        using_index: bool,
    },
    PrimaryKey {
        using_index: bool,
    },
    Other,
}

/// What one statement (or one action of an `ALTER TABLE`) does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    CreateTable {
        table: TableName,
        columns: Vec<Column>,
        constraints: Vec<Constraint>,
        if_not_exists: bool,
    },
    CreateIndex {
        table: TableName,
        /// In the table's schema, as PostgreSQL puts it.
        index: Option<TableName>,
        concurrently: bool,
    },
    DropIndex {
        indexes: Vec<TableName>,
    },
    DropTable {
        tables: Vec<TableName>,
    },
    Alter {
        table: TableName,
        action: Action,
    },
}

/// One action of an `ALTER TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    AddColumn(Column),
    DropColumn(Vec<String>),
    RenameColumn {
        from: String,
        to: String,
    },
    /// The new name, in the table's schema.
    RenameTable(TableName),
    SetNotNull {
        column: String,
    },
    SetType {
        column: String,
        ty: Type,
        using: bool,
        at: Option<Loc>,
    },
    AddConstraint(Constraint),
    ValidateConstraint(String),
    DropConstraint(String),
}

/// The changes `stmt` makes, in order.
pub fn changes(stmt: &Statement) -> Vec<Change> {
    match stmt {
        Statement::CreateTable(ct) => {
            let Some(table) = TableName::from_object_name(&ct.name) else {
                return Vec::new();
            };
            let mut constraints: Vec<Constraint> = ct.constraints.iter().map(constraint).collect();
            let columns = ct
                .columns
                .iter()
                .map(|c| {
                    constraints.extend(column_constraints(c));
                    column(c, false)
                })
                .collect();
            constraints.shrink_to_fit();
            vec![Change::CreateTable {
                table,
                columns,
                constraints,
                if_not_exists: ct.if_not_exists,
            }]
        }
        Statement::CreateIndex(ci) => {
            let Some(table) = TableName::from_object_name(&ci.table_name) else {
                return Vec::new();
            };
            let index = ci
                .name
                .as_ref()
                .and_then(|n| n.0.last()?.as_ident().map(fold))
                .map(|name| TableName {
                    schema: table.schema.clone(),
                    name,
                });
            vec![Change::CreateIndex {
                table,
                index,
                concurrently: ci.concurrently,
            }]
        }
        Statement::Drop {
            object_type, names, ..
        } => {
            let names: Vec<TableName> = names
                .iter()
                .filter_map(TableName::from_object_name)
                .collect();
            match object_type {
                ObjectType::Table => vec![Change::DropTable { tables: names }],
                ObjectType::Index => vec![Change::DropIndex { indexes: names }],
                _ => Vec::new(),
            }
        }
        Statement::AlterTable(at) => {
            let Some(table) = TableName::from_object_name(&at.name) else {
                return Vec::new();
            };
            let mut out = Vec::new();
            for op in &at.operations {
                let mut push = |action| {
                    out.push(Change::Alter {
                        table: table.clone(),
                        action,
                    })
                };
                match op {
                    AlterTableOperation::AddColumn { column_def, .. } => {
                        push(Action::AddColumn(column(column_def, true)));
                        for c in column_constraints(column_def) {
                            push(Action::AddConstraint(c));
                        }
                    }
                    AlterTableOperation::DropColumn { column_names, .. } => {
                        push(Action::DropColumn(column_names.iter().map(fold).collect()))
                    }
                    AlterTableOperation::RenameColumn {
                        old_column_name,
                        new_column_name,
                    } => push(Action::RenameColumn {
                        from: fold(old_column_name),
                        to: fold(new_column_name),
                    }),
                    AlterTableOperation::RenameTable { table_name } => {
                        let (RenameTableNameKind::To(n) | RenameTableNameKind::As(n)) = table_name;
                        if let Some(name) = last_name(n) {
                            push(Action::RenameTable(TableName {
                                schema: table.schema.clone(),
                                name,
                            }));
                        }
                    }
                    AlterTableOperation::AlterColumn { column_name, op } => match op {
                        AlterColumnOperation::SetNotNull => push(Action::SetNotNull {
                            column: fold(column_name),
                        }),
                        AlterColumnOperation::SetDataType {
                            data_type, using, ..
                        } => push(Action::SetType {
                            column: fold(column_name),
                            ty: Type::of(data_type),
                            using: using.is_some(),
                            at: loc(column_name),
                        }),
                        _ => {}
                    },
                    AlterTableOperation::AddConstraint {
                        constraint: c,
                        not_valid,
                    } => push(Action::AddConstraint(Constraint {
                        not_valid: *not_valid,
                        ..constraint(c)
                    })),
                    AlterTableOperation::ValidateConstraint { name } => {
                        push(Action::ValidateConstraint(fold(name)))
                    }
                    AlterTableOperation::DropConstraint { name, .. } => {
                        push(Action::DropConstraint(fold(name)))
                    }
                    _ => {}
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

fn last_name(n: &ObjectName) -> Option<String> {
    n.0.last()?.as_ident().map(fold)
}

fn loc(i: &Ident) -> Option<Loc> {
    let s = i.span.start;
    let line = u32::try_from(s.line).ok().filter(|l| *l > 0)?;
    Some((line, u32::try_from(s.column).ok()?))
}

/// A column definition; with `added`, what adding it costs too.
fn column(c: &ColumnDef, added: bool) -> Column {
    Column {
        name: fold(&c.name),
        ty: Type::of(&c.data_type),
        at: loc(&c.name),
        added: added.then(|| Box::new(added_column(c))),
    }
}

fn added_column(c: &ColumnDef) -> Added {
    let mut out = Added {
        default: None,
        identity: false,
        stored: false,
    };
    for o in &c.options {
        match &o.option {
            ColumnOption::Default(e) => out.default = Some(default_of(e)),
            ColumnOption::Identity(_) => out.identity = true,
            ColumnOption::Generated {
                generation_expr,
                generation_expr_mode,
                ..
            } => {
                if generation_expr.is_some() {
                    // PostgreSQL's generated columns are STORED (VIRTUAL
                    // from 18 on, when written).
                    out.stored = *generation_expr_mode != Some(GeneratedExpressionMode::Virtual);
                } else {
                    out.identity = true;
                }
            }
            _ => {}
        }
    }
    out
}

/// The constraints written on a column (`REFERENCES`, `UNIQUE`, `PRIMARY
/// KEY`, `CHECK`), as table constraints.
fn column_constraints(c: &ColumnDef) -> Vec<Constraint> {
    let name = fold(&c.name);
    c.options
        .iter()
        .filter_map(|o| {
            let kind = match &o.option {
                ColumnOption::PrimaryKey(_) => ConstraintKind::PrimaryKey { using_index: false },
                ColumnOption::Unique(_) => ConstraintKind::Unique { using_index: false },
                ColumnOption::ForeignKey(fk) => ConstraintKind::ForeignKey {
                    references: TableName::from_object_name(&fk.foreign_table),
                },
                ColumnOption::Check(ch) => ConstraintKind::Check {
                    not_null: not_null_columns(&ch.expr)
                        .into_iter()
                        .filter(|c| *c == name)
                        .collect(),
                },
                _ => return None,
            };
            Some(Constraint {
                name: o.name.as_ref().map(fold),
                kind,
                not_valid: false,
                at: loc(&c.name),
            })
        })
        .collect()
}

fn constraint(c: &TableConstraint) -> Constraint {
    let (name, kind) = match c {
        TableConstraint::Check(ch) => (
            &ch.name,
            ConstraintKind::Check {
                not_null: not_null_columns(&ch.expr),
            },
        ),
        TableConstraint::ForeignKey(fk) => (
            &fk.name,
            ConstraintKind::ForeignKey {
                references: TableName::from_object_name(&fk.foreign_table),
            },
        ),
        TableConstraint::Unique(u) => (&u.name, ConstraintKind::Unique { using_index: false }),
        TableConstraint::PrimaryKey(p) => {
            (&p.name, ConstraintKind::PrimaryKey { using_index: false })
        }
        TableConstraint::UniqueUsingIndex(u) => {
            (&u.name, ConstraintKind::Unique { using_index: true })
        }
        TableConstraint::PrimaryKeyUsingIndex(p) => {
            (&p.name, ConstraintKind::PrimaryKey { using_index: true })
        }
        _ => (&None, ConstraintKind::Other),
    };
    Constraint {
        name: name.as_ref().map(fold),
        kind,
        not_valid: false,
        at: name.as_ref().and_then(loc),
    }
}

/// The columns `expr` proves not null: `col IS NOT NULL`, alone, in
/// parentheses or as a term of an `AND` chain (what PostgreSQL's
/// `NotNullImpliedByRelConstraints` recognises, in the usual spellings).
pub fn not_null_columns(expr: &Expr) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![expr];
    while let Some(e) = todo.pop() {
        match e {
            Expr::Nested(inner) => todo.push(inner),
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And,
                right,
            } => {
                todo.push(right);
                todo.push(left);
            }
            Expr::IsNotNull(inner) => match inner.as_ref() {
                Expr::Identifier(i) => out.push(fold(i)),
                Expr::CompoundIdentifier(parts) => out.extend(parts.last().map(fold)),
                _ => {}
            },
            _ => {}
        }
    }
    out
}

/// Functions a default may call without rewriting the table: PostgreSQL
/// marks them immutable or stable, so the value is computed once.
const STABLE_FUNCTIONS: &[&str] = &[
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtime",
    "localtimestamp",
    "transaction_timestamp",
    "statement_timestamp",
    "current_user",
    "current_role",
    "session_user",
    "user",
    "current_schema",
    "current_setting",
    "current_database",
    "coalesce",
    "nullif",
    "greatest",
    "least",
    "lower",
    "upper",
    "trim",
    "btrim",
    "concat",
    "replace",
    "length",
    "format",
    "to_char",
    "to_timestamp",
    "to_date",
    "date_trunc",
    "timezone",
    "make_interval",
    "make_date",
    "abs",
    "round",
    "floor",
    "ceil",
    "array",
    "array_fill",
    "json_build_object",
    "json_build_array",
    "jsonb_build_object",
    "jsonb_build_array",
    "to_json",
    "to_jsonb",
    "row",
];

/// Functions PostgreSQL marks volatile that defaults often call.
const VOLATILE_FUNCTIONS: &[&str] = &[
    "random",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "uuid_generate_v7",
    "uuidv4",
    "uuidv7",
    "gen_random_bytes",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "setval",
    "txid_current",
];

/// Whether a default is computed once or per row.
fn default_of(e: &Expr) -> Default {
    match first_unstable_call(e) {
        Some(function) => Default::Volatile {
            known: VOLATILE_FUNCTIONS.contains(&function.as_str()),
            function,
        },
        None => Default::Stable,
    }
}

/// The first function `e` calls that is not in [`STABLE_FUNCTIONS`], looking
/// through the expressions a default is made of (a walk of its own rather
/// than sqlparser's visitor, whose code for the whole tree would weigh more
/// than the rest of this module). Defaults cannot hold subqueries.
fn first_unstable_call(e: &Expr) -> Option<String> {
    let args = |f: &sqlparser::ast::Function| -> Option<String> {
        let FunctionArguments::List(list) = &f.args else {
            return None;
        };
        list.args.iter().find_map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e))
            | FunctionArg::Named {
                arg: FunctionArgExpr::Expr(e),
                ..
            }
            | FunctionArg::ExprNamed {
                arg: FunctionArgExpr::Expr(e),
                ..
            } => first_unstable_call(e),
            _ => None,
        })
    };
    match e {
        Expr::Function(f) => {
            let name = last_name(&f.name).unwrap_or_default();
            if STABLE_FUNCTIONS.contains(&name.as_str()) {
                args(f)
            } else {
                Some(name)
            }
        }
        Expr::Cast { expr, .. }
        | Expr::Nested(expr)
        | Expr::UnaryOp { expr, .. }
        | Expr::Collate { expr, .. }
        | Expr::Floor { expr, .. }
        | Expr::Ceil { expr, .. }
        | Expr::Extract { expr, .. }
        | Expr::Trim { expr, .. }
        | Expr::Substring { expr, .. }
        | Expr::IsNull(expr)
        | Expr::IsNotNull(expr) => first_unstable_call(expr),
        Expr::AtTimeZone {
            timestamp: left,
            time_zone: right,
        }
        | Expr::BinaryOp { left, right, .. } => {
            first_unstable_call(left).or_else(|| first_unstable_call(right))
        }
        Expr::Array(a) => a.elem.iter().find_map(first_unstable_call),
        Expr::Tuple(items) => items.iter().find_map(first_unstable_call),
        Expr::Interval(i) => first_unstable_call(&i.value),
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => operand
            .iter()
            .chain(else_result.iter())
            .find_map(|e| first_unstable_call(e))
            .or_else(|| {
                conditions.iter().find_map(|w| {
                    first_unstable_call(&w.condition).or_else(|| first_unstable_call(&w.result))
                })
            }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(sql: &str) -> Vec<Change> {
        crate::sql::parse::statements(sql)
            .unwrap()
            .iter()
            .flat_map(changes)
            .collect()
    }

    fn t(name: &str) -> TableName {
        TableName::parse(name).unwrap()
    }

    #[test]
    fn create_table_columns_and_constraints() {
        let c = of("CREATE TABLE IF NOT EXISTS app.\"Items\" (
            id serial PRIMARY KEY,
            at timestamp DEFAULT now(),
            code varchar(20) CHECK (code IS NOT NULL),
            tag char,
            price numeric(10, 2),
            token uuid DEFAULT gen_random_uuid(),
            ref bigint REFERENCES other (id),
            CONSTRAINT c CHECK (price IS NOT NULL AND (code IS NOT NULL))
        )");
        let [Change::CreateTable {
            table,
            columns,
            constraints,
            if_not_exists,
        }] = c.as_slice()
        else {
            panic!("{c:?}")
        };
        assert_eq!(table, &t("app.\"Items\""));
        assert!(if_not_exists);
        let types: Vec<&Type> = columns.iter().map(|c| &c.ty).collect();
        assert_eq!(
            types,
            [
                &Type::Serial,
                &Type::Timestamp,
                &Type::Varchar(Some(20)),
                &Type::Char(1),
                &Type::Numeric(Some((10, 2))),
                &Type::Other("UUID".into()),
                &Type::BigInt
            ]
        );
        assert_eq!(columns[0].at, Some((2, 13)));
        // Not read in CREATE TABLE, where a default costs nothing.
        assert_eq!(columns[5].added, None);
        let kinds: Vec<&ConstraintKind> = constraints.iter().map(|c| &c.kind).collect();
        assert_eq!(
            kinds,
            [
                &ConstraintKind::Check {
                    not_null: vec!["price".into(), "code".into()]
                },
                &ConstraintKind::PrimaryKey { using_index: false },
                &ConstraintKind::Check {
                    not_null: vec!["code".into()]
                },
                &ConstraintKind::ForeignKey {
                    references: Some(t("other"))
                },
            ]
        );
    }

    #[test]
    fn alter_table_actions() {
        let c = of("ALTER TABLE items
            ADD COLUMN n int NOT NULL DEFAULT 0,
            ADD COLUMN r text DEFAULT my_fn(),
            ALTER COLUMN name SET NOT NULL,
            ALTER COLUMN name TYPE text USING name::text,
            ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES b (id) NOT VALID,
            ADD CONSTRAINT u UNIQUE USING INDEX u_idx,
            VALIDATE CONSTRAINT fk,
            DROP COLUMN old,
            RENAME COLUMN a TO b");
        let actions: Vec<&Action> = c
            .iter()
            .map(|c| match c {
                Change::Alter { table, action } => {
                    assert_eq!(table, &t("items"));
                    action
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(actions.len(), 9, "{actions:#?}");
        assert!(
            matches!(actions[0], Action::AddColumn(Column { added: Some(a), .. }) if a.default == Some(Default::Stable))
        );
        assert!(
            matches!(actions[1], Action::AddColumn(Column { added: Some(a), .. }) if a.default == Some(Default::Volatile { function: "my_fn".into(), known: false }))
        );
        assert_eq!(
            actions[2],
            &Action::SetNotNull {
                column: "name".into()
            }
        );
        assert!(matches!(
            actions[3],
            Action::SetType {
                ty: Type::Text,
                using: true,
                ..
            }
        ));
        assert!(
            matches!(actions[4], Action::AddConstraint(Constraint { kind: ConstraintKind::ForeignKey { .. }, not_valid: true, name: Some(n), .. }) if n == "fk")
        );
        assert!(matches!(
            actions[5],
            Action::AddConstraint(Constraint {
                kind: ConstraintKind::Unique { using_index: true },
                ..
            })
        ));
        assert_eq!(actions[6], &Action::ValidateConstraint("fk".into()));
        assert_eq!(actions[7], &Action::DropColumn(vec!["old".into()]));
        assert_eq!(
            actions[8],
            &Action::RenameColumn {
                from: "a".into(),
                to: "b".into()
            }
        );
        assert_eq!(
            of("ALTER TABLE s.t RENAME TO u"),
            [Change::Alter {
                table: t("s.t"),
                action: Action::RenameTable(t("s.u"))
            }]
        );
    }

    #[test]
    fn indexes_and_drops() {
        assert_eq!(
            of("CREATE INDEX CONCURRENTLY i ON s.t (a)"),
            [Change::CreateIndex {
                table: t("s.t"),
                index: Some(t("s.i")),
                concurrently: true
            }]
        );
        assert_eq!(
            of("DROP INDEX i, s.j"),
            [Change::DropIndex {
                indexes: vec![t("i"), t("s.j")]
            }]
        );
        assert_eq!(
            of("DROP TABLE IF EXISTS a, b CASCADE"),
            [Change::DropTable {
                tables: vec![t("a"), t("b")]
            }]
        );
        assert!(of("INSERT INTO t VALUES (1)").is_empty());
    }

    #[test]
    fn types_postgresql_spells_in_several_ways() {
        let ty = |sql: &str| match &of(&format!("ALTER TABLE t ADD COLUMN c {sql}"))[0] {
            Change::Alter {
                action: Action::AddColumn(c),
                ..
            } => c.ty.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(ty("integer"), Type::Int);
        assert_eq!(ty("int4"), Type::Int);
        assert_eq!(ty("bigserial"), Type::BigSerial);
        assert_eq!(ty("timestamptz"), Type::Timestamptz);
        assert_eq!(ty("timestamp with time zone"), Type::Timestamptz);
        assert_eq!(ty("timestamp(3) without time zone"), Type::Timestamp);
        assert_eq!(ty("character varying"), Type::Varchar(None));
        assert_eq!(ty("character(3)"), Type::Char(3));
        assert_eq!(ty("numeric(12)"), Type::Numeric(Some((12, 0))));
        assert_eq!(ty("decimal"), Type::Numeric(None));
    }

    #[test]
    fn defaults_are_searched_for_volatile_calls() {
        let default =
            |sql: &str| match &of(&format!("ALTER TABLE t ADD COLUMN c int DEFAULT {sql}"))[0] {
                Change::Alter {
                    action: Action::AddColumn(c),
                    ..
                } => c.added.clone().unwrap().default.unwrap(),
                other => panic!("{other:?}"),
            };
        let volatile = |f: &str| Default::Volatile {
            function: f.into(),
            known: true,
        };
        assert_eq!(default("(random() * 10)::int"), volatile("random"));
        assert_eq!(
            default("coalesce(NULL, floor(random()))"),
            volatile("random")
        );
        assert_eq!(
            default("CASE WHEN true THEN nextval('s') END"),
            volatile("nextval")
        );
        assert_eq!(default("ARRAY[1, 2]"), Default::Stable);
        assert_eq!(default("now() + interval '1 day'"), Default::Stable);
        assert_eq!(default("-1"), Default::Stable);
    }

    #[test]
    fn generated_columns() {
        let col = |sql: &str| match &of(&format!("ALTER TABLE t ADD COLUMN {sql}"))[0] {
            Change::Alter {
                action: Action::AddColumn(c),
                ..
            } => c.clone(),
            other => panic!("{other:?}"),
        };
        let added = |sql: &str| *col(sql).added.unwrap();
        assert!(added("id bigint GENERATED ALWAYS AS IDENTITY").identity);
        assert!(added("id bigint GENERATED BY DEFAULT AS IDENTITY").identity);
        let c = added("total numeric GENERATED ALWAYS AS (price * qty) STORED");
        assert!(c.stored && !c.identity);
    }
}
