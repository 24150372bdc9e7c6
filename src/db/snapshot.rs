//! The catalog queries behind a snapshot ([`crate::verify::snapshot`]),
//! run in one read-only transaction with `search_path` set to `pg_catalog`
//! only.

use super::DbError;
use postgres::Client;

/// Which namespaces count: every schema but the system ones and `$1`, the
/// history schema. `n` is the `pg_namespace` alias.
const SCHEMA_FILTER: &str =
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)' AND n.nspname <> $1";

/// Not a member of an extension (`classid` is the object's catalog).
fn not_in_extension(catalog: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{catalog}'::regclass AND d.objid = {oid} AND d.deptype = 'e')"
    )
}

/// An ACL column as sorted text (grant order does not matter), or NULL.
fn acl(column: &str) -> String {
    format!("(SELECT string_agg(a::text, ' ' ORDER BY a::text) FROM unnest({column}) AS a)")
}

/// Every query returns: kind label, qualified name, definition, note,
/// comment, privileges.
fn queries() -> Vec<(&'static str, String)> {
    let f = SCHEMA_FILTER;
    vec![
        (
            "schemas",
            format!(
                "SELECT 'schema', n.nspname, '', NULL, obj_description(n.oid, 'pg_namespace'), {acl}
                 FROM pg_namespace n
                 WHERE {f} AND {ext}",
                acl = acl("n.nspacl"),
                ext = not_in_extension("pg_namespace", "n.oid"),
            ),
        ),
        (
            "extensions",
            "SELECT 'extension', e.extname, 'version ' || e.extversion || ' in schema ' || n.nspname,
                    NULL, obj_description(e.oid, 'pg_extension'), NULL
             FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
             WHERE n.nspname <> $1"
                .to_string(),
        ),
        (
            "types",
            format!(
                "SELECT 'type', n.nspname || '.' || t.typname,
                    CASE t.typtype
                      WHEN 'e' THEN 'enum (' || coalesce((SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                                                 FROM pg_enum e WHERE e.enumtypid = t.oid), '') || ')'
                      WHEN 'd' THEN concat_ws(' ', 'domain over ' || format_type(t.typbasetype, t.typtypmod),
                                    CASE WHEN t.typcollation <> 0 AND t.typcollation <> (SELECT b.typcollation FROM pg_type b WHERE b.oid = t.typbasetype)
                                         THEN 'COLLATE ' || t.typcollation::regcollation::text END,
                                    CASE WHEN t.typnotnull THEN 'NOT NULL' END,
                                    'DEFAULT ' || t.typdefault)
                      WHEN 'c' THEN 'composite (' || coalesce((SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                                                 FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '') || ')'
                      WHEN 'r' THEN 'range of ' || (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid)
                      WHEN 'b' THEN 'base type'
                      WHEN 'p' THEN 'pseudo-type'
                      ELSE 'type ' || t.typtype::text
                    END,
                    NULL, obj_description(t.oid, 'pg_type'), {acl}
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                 WHERE {f} AND {ext}
                   AND t.typtype <> 'm'
                   AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
                   AND NOT EXISTS (SELECT 1 FROM pg_type el WHERE el.oid = t.typelem AND el.typarray = t.oid)",
                acl = acl("t.typacl"),
                ext = not_in_extension("pg_type", "t.oid"),
            ),
        ),
        (
            "sequences",
            format!(
                "SELECT 'sequence', n.nspname || '.' || c.relname,
                    concat_ws(' ', format_type(s.seqtypid, NULL), 'start ' || s.seqstart, 'increment ' || s.seqincrement,
                              'min ' || s.seqmin, 'max ' || s.seqmax, 'cache ' || s.seqcache,
                              CASE WHEN s.seqcycle THEN 'cycle' END,
                              (SELECT 'owned by ' || tn.nspname || '.' || tc.relname || '.' || ta.attname
                               FROM pg_depend d
                               JOIN pg_class tc ON tc.oid = d.refobjid
                               JOIN pg_namespace tn ON tn.oid = tc.relnamespace
                               JOIN pg_attribute ta ON ta.attrelid = d.refobjid AND ta.attnum = d.refobjsubid
                               WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                 AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                               LIMIT 1)),
                    NULL, obj_description(c.oid, 'pg_class'), {acl}
                 FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE {f} AND {ext}",
                acl = acl("c.relacl"),
                ext = not_in_extension("pg_class", "c.oid"),
            ),
        ),
        (
            "relations",
            format!(
                "SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                                       WHEN 'f' THEN 'foreign table' ELSE 'table' END,
                    n.nspname || '.' || c.relname,
                    CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid)
                    ELSE concat_ws(' ',
                        CASE c.relpersistence WHEN 'u' THEN 'UNLOGGED' END,
                        CASE WHEN c.relispartition THEN
                            (SELECT 'PARTITION OF ' || pn.nspname || '.' || pc.relname
                             FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
                             JOIN pg_namespace pn ON pn.oid = pc.relnamespace
                             WHERE i.inhrelid = c.oid LIMIT 1) || ' ' || pg_get_expr(c.relpartbound, c.oid)
                        ELSE
                            (SELECT 'INHERITS (' || string_agg(pn.nspname || '.' || pc.relname, ', ' ORDER BY i.inhseqno) || ')'
                             FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
                             JOIN pg_namespace pn ON pn.oid = pc.relnamespace
                             WHERE i.inhrelid = c.oid)
                        END,
                        CASE WHEN c.relkind = 'p' THEN 'PARTITION BY ' || pg_get_partkeydef(c.oid) END,
                        'WITH (' || array_to_string(c.reloptions, ', ') || ')')
                    END,
                    NULL, obj_description(c.oid, 'pg_class'), {acl}
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {f} AND {ext}",
                acl = acl("c.relacl"),
                ext = not_in_extension("pg_class", "c.oid"),
            ),
        ),
        (
            "columns",
            format!(
                "SELECT 'column', n.nspname || '.' || c.relname || '.' || a.attname,
                    concat_ws(' ', format_type(a.atttypid, a.atttypmod),
                        CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                             THEN 'COLLATE ' || a.attcollation::regcollation::text END,
                        CASE WHEN a.attnotnull THEN 'NOT NULL' END,
                        CASE WHEN a.attgenerated = 's' THEN 'GENERATED ALWAYS AS (' || pg_get_expr(ad.adbin, ad.adrelid) || ') STORED'
                             WHEN a.attgenerated = 'v' THEN 'GENERATED ALWAYS AS (' || pg_get_expr(ad.adbin, ad.adrelid) || ') VIRTUAL'
                             WHEN ad.adbin IS NOT NULL THEN 'DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid) END,
                        CASE a.attidentity WHEN 'a' THEN 'GENERATED ALWAYS AS IDENTITY'
                                           WHEN 'd' THEN 'GENERATED BY DEFAULT AS IDENTITY' END),
                    'position ' || row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum),
                    col_description(c.oid, a.attnum), {acl}
                 FROM pg_attribute a
                 JOIN pg_class c ON c.oid = a.attrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 JOIN pg_type t ON t.oid = a.atttypid
                 LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                 WHERE a.attnum > 0 AND NOT a.attisdropped
                   AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {f} AND {ext}",
                acl = acl("a.attacl"),
                ext = not_in_extension("pg_class", "c.oid"),
            ),
        ),
        (
            "constraints",
            format!(
                "SELECT 'constraint', n.nspname || '.' || coalesce(c.relname, t.typname) || '.' || co.conname,
                    pg_get_constraintdef(co.oid), NULL, obj_description(co.oid, 'pg_constraint'), NULL
                 FROM pg_constraint co
                 JOIN pg_namespace n ON n.oid = co.connamespace
                 LEFT JOIN pg_class c ON c.oid = co.conrelid
                 LEFT JOIN pg_type t ON t.oid = co.contypid
                 WHERE (co.conrelid <> 0 OR co.contypid <> 0) AND {f}
                   -- PostgreSQL 18 also records a column's NOT NULL here; the column's
                   -- own line says it on every version, so it is one fact everywhere.
                   AND co.contype <> 'n'
                   AND {ext_c} AND {ext_t}",
                ext_c = not_in_extension("pg_class", "co.conrelid"),
                ext_t = not_in_extension("pg_type", "co.contypid"),
            ),
        ),
        (
            // Indexes that implement a primary key, unique or exclusion
            // constraint are listed as that constraint.
            "indexes",
            format!(
                "SELECT 'index', n.nspname || '.' || ic.relname,
                    CASE WHEN starts_with(x.def, 'CREATE INDEX ' || quote_ident(ic.relname) || ' ')
                         THEN substr(x.def, length('CREATE INDEX ' || quote_ident(ic.relname) || ' ') + 1)
                         WHEN starts_with(x.def, 'CREATE UNIQUE INDEX ' || quote_ident(ic.relname) || ' ')
                         THEN 'UNIQUE ' || substr(x.def, length('CREATE UNIQUE INDEX ' || quote_ident(ic.relname) || ' ') + 1)
                         ELSE x.def END,
                    NULL, obj_description(ic.oid, 'pg_class'), NULL
                 FROM pg_index i
                 JOIN pg_class ic ON ic.oid = i.indexrelid
                 JOIN pg_namespace n ON n.oid = ic.relnamespace
                 CROSS JOIN LATERAL (SELECT pg_get_indexdef(i.indexrelid) AS def OFFSET 0) x
                 WHERE {f} AND {ext}
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint co WHERE co.conindid = i.indexrelid
                                   AND co.conrelid = i.indrelid AND co.contype IN ('p', 'u', 'x'))",
                ext = not_in_extension("pg_class", "i.indrelid"),
            ),
        ),
        (
            "functions",
            format!(
                "SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
                    p.oid::regprocedure::text,
                    CASE WHEN p.prokind = 'a' THEN
                        (SELECT concat_ws(' ', 'sfunc ' || ag.aggtransfn::regprocedure::text,
                                          'stype ' || format_type(ag.aggtranstype, NULL),
                                          CASE WHEN ag.aggfinalfn <> 0 THEN 'finalfunc ' || ag.aggfinalfn::regprocedure::text END,
                                          CASE WHEN ag.aggcombinefn <> 0 THEN 'combinefunc ' || ag.aggcombinefn::regprocedure::text END,
                                          'initcond ' || quote_literal(ag.agginitval))
                         FROM pg_aggregate ag WHERE ag.aggfnoid = p.oid)
                    ELSE pg_get_functiondef(p.oid) END,
                    NULL, obj_description(p.oid, 'pg_proc'), {acl}
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE {f} AND {ext}",
                acl = acl("p.proacl"),
                ext = not_in_extension("pg_proc", "p.oid"),
            ),
        ),
        (
            "triggers",
            format!(
                "SELECT 'trigger', n.nspname || '.' || c.relname || '.' || tg.tgname,
                    CASE WHEN starts_with(x.def, 'CREATE TRIGGER ' || quote_ident(tg.tgname) || ' ')
                         THEN substr(x.def, length('CREATE TRIGGER ' || quote_ident(tg.tgname) || ' ') + 1)
                         WHEN starts_with(x.def, 'CREATE CONSTRAINT TRIGGER ' || quote_ident(tg.tgname) || ' ')
                         THEN 'CONSTRAINT ' || substr(x.def, length('CREATE CONSTRAINT TRIGGER ' || quote_ident(tg.tgname) || ' ') + 1)
                         ELSE x.def END
                      || CASE tg.tgenabled WHEN 'D' THEN ' (disabled)' WHEN 'R' THEN ' (enabled on replica)'
                                           WHEN 'A' THEN ' (enabled always)' ELSE '' END,
                    NULL, obj_description(tg.oid, 'pg_trigger'), NULL
                 FROM pg_trigger tg
                 JOIN pg_class c ON c.oid = tg.tgrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 CROSS JOIN LATERAL (SELECT pg_get_triggerdef(tg.oid) AS def OFFSET 0) x
                 WHERE NOT tg.tgisinternal AND {f} AND {ext}",
                ext = not_in_extension("pg_class", "c.oid"),
            ),
        ),
        (
            "row level security",
            format!(
                "SELECT 'row level security', n.nspname || '.' || c.relname,
                    concat_ws(', ', CASE WHEN c.relrowsecurity THEN 'enabled' END,
                                    CASE WHEN c.relforcerowsecurity THEN 'forced' END),
                    NULL, NULL, NULL
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE (c.relrowsecurity OR c.relforcerowsecurity) AND {f}"
            ),
        ),
        (
            "policies",
            format!(
                "SELECT 'policy', n.nspname || '.' || c.relname || '.' || p.polname,
                    concat_ws(' ',
                        CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
                        'FOR ' || CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT'
                                                WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
                        'TO ' || (SELECT string_agg(r.name, ', ' ORDER BY r.name)
                                  FROM (SELECT CASE WHEN o = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(o)) END AS name
                                        FROM unnest(p.polroles) AS o) r),
                        'USING (' || pg_get_expr(p.polqual, p.polrelid) || ')',
                        'WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')'),
                    NULL, obj_description(p.oid, 'pg_policy'), NULL
                 FROM pg_policy p
                 JOIN pg_class c ON c.oid = p.polrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE {f}"
            ),
        ),
    ]
}

/// One catalog object as a snapshot query returns it.
pub struct CatalogRow {
    /// The kind's label (`table`, `policy`, ...).
    pub label: String,
    /// The qualified name.
    pub name: String,
    pub definition: Option<String>,
    pub note: Option<String>,
    pub comment: Option<String>,
    pub privileges: Option<String>,
}

/// Runs every snapshot query in one read-only, repeatable-read transaction
/// and hands each row to `each` with what the query reads (for messages).
/// `history_schema` is left out. An error from `each` ends the read.
pub fn read(
    conn: &mut impl super::Connection<Client = Client>,
    history_schema: &str,
    mut each: impl FnMut(&str, CatalogRow) -> Result<(), DbError>,
) -> Result<(), DbError> {
    let client = super::client(conn);
    let mut tx = client
        .build_transaction()
        .read_only(true)
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .start()
        .map_err(|e| DbError::query("starting the snapshot transaction", &e))?;
    tx.batch_execute("SET LOCAL search_path = pg_catalog, pg_temp")
        .map_err(|e| DbError::query("setting the snapshot's search_path", &e))?;
    for (what, sql) in queries() {
        let rows = tx
            .query(sql.as_str(), &[&history_schema])
            .map_err(|e| DbError::query(&format!("reading the catalog ({what})"), &e))?;
        for row in rows {
            each(
                what,
                CatalogRow {
                    label: row.get(0),
                    name: row.get(1),
                    definition: row.get(2),
                    note: row.get(3),
                    comment: row.get(4),
                    privileges: row.get(5),
                },
            )?;
        }
    }
    tx.commit()
        .map_err(|e| DbError::query("ending the snapshot transaction", &e))
}
