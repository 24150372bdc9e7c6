//! The size of the tables the safety lint's findings name
//! ([`crate::safety::Live`]), read in one query however many there are.

use super::DbError;
use crate::policies::model::TableName;
use crate::safety::{TableSize, Target};
use postgres::GenericClient;
use std::collections::BTreeMap;

/// Per target (a table, or an index standing for its table): its table's
/// estimated rows, total size and validated CHECK constraints.
///
/// The row estimate is the planner's: `reltuples` scaled to the heap's
/// current pages (as `estimate_rel_size` does), or the statistics' live
/// rows if those are more (inserts since the last ANALYZE); `reltuples` is
/// -1 (0 before PostgreSQL 14) for a table never vacuumed or analyzed, when
/// only the statistics are left, and none at all is `NULL`. A partitioned
/// table adds up its leaf partitions (`pg_partition_tree`, 12+).
const SIZES: &str = "
SELECT a.i::int, tn.nspname::text, t.relname::text, s.rows, coalesce(s.bytes, 0)::int8,
       ARRAY(SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k
             WHERE k.conrelid = t.oid AND k.contype = 'c' AND k.convalidated
             ORDER BY k.conname)
FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS a(kind, nsp, rel, i)
JOIN pg_namespace an ON an.nspname = a.nsp
JOIN pg_class ac ON ac.relnamespace = an.oid AND ac.relname = a.rel
                AND (ac.relkind IN ('i', 'I')) = (a.kind = 'index')
LEFT JOIN pg_index x ON x.indexrelid = ac.oid
JOIN pg_class t ON t.oid = coalesce(x.indrelid, ac.oid)
JOIN pg_namespace tn ON tn.oid = t.relnamespace
CROSS JOIN LATERAL (
    SELECT sum(pg_total_relation_size(p.oid))::int8 AS bytes,
           CASE WHEN count(*) = 0 THEN 0 ELSE sum(
               CASE WHEN pg_relation_size(p.oid) = 0 THEN 0
                    WHEN p.reltuples >= 0 AND p.relpages > 0
                    THEN greatest(p.reltuples / p.relpages
                                  * (pg_relation_size(p.oid) / current_setting('block_size')::float8),
                                  pg_stat_get_live_tuples(p.oid))
                    ELSE nullif(pg_stat_get_live_tuples(p.oid), 0)
               END) END::float8 AS rows
    FROM pg_class p
    WHERE (t.relkind <> 'p' AND p.oid = t.oid)
       OR (t.relkind = 'p' AND p.oid IN (SELECT relid FROM pg_partition_tree(t.oid) WHERE isleaf))
) s";

/// Reads the size of every target's table; `None` for a target the
/// database does not have. The size functions take an ACCESS SHARE lock on
/// each table: a session holding a stronger one makes the read wait, for at
/// most a few seconds.
pub fn sizes(
    conn: &mut impl super::Connection,
    targets: &[Target],
) -> Result<BTreeMap<Target, Option<TableSize>>, DbError> {
    let mut out: BTreeMap<Target, Option<TableSize>> =
        targets.iter().map(|t| (t.clone(), None)).collect();
    if targets.is_empty() {
        return Ok(out);
    }
    let (mut kinds, mut schemas, mut names) = (Vec::new(), Vec::new(), Vec::new());
    for t in targets {
        let (kind, name) = match t {
            Target::Table(n) => ("table", n),
            Target::Index(n) => ("index", n),
        };
        kinds.push(kind);
        schemas.push(name.schema.as_str());
        names.push(name.name.as_str());
    }
    let context = "reading the size of the tables the safety lint names";
    let mut tx = super::client(conn)
        .transaction()
        .map_err(|e| DbError::query(context, &e))?;
    tx.batch_execute("SET LOCAL lock_timeout = '5s'")
        .map_err(|e| DbError::query(context, &e))?;
    let rows = tx
        .query(SIZES, &[&kinds, &schemas, &names])
        .map_err(|e| DbError::query(context, &e))?;
    tx.rollback().map_err(|e| DbError::query(context, &e))?;
    for r in rows {
        let i: i32 = r.get(0);
        let Some(target) = usize::try_from(i - 1).ok().and_then(|i| targets.get(i)) else {
            continue;
        };
        out.insert(
            target.clone(),
            Some(TableSize {
                table: TableName {
                    schema: r.get(1),
                    name: r.get(2),
                },
                rows: r.get(3),
                bytes: r.get(4),
                checks: r.get(5),
            }),
        );
    }
    Ok(out)
}
