//! The fleet's control database: the query that lists targets (`[fleet.targets_query]`).

use super::connect::Target;

/// Runs `query` on the database at `url` and reads its rows as (name, url, group): the
/// columns `name` and `url`, and `group` when the query returns one, all text. It runs in a
/// read-only transaction, rolled back: listing targets never changes the control database,
/// whatever the query says (a `DELETE ... RETURNING` is the server's error).
pub fn query_targets(
    url: &str,
    query: &str,
) -> Result<Vec<(String, String, Option<String>)>, String> {
    let target = Target::resolve(Some(url)).map_err(|e| e.to_string())?;
    let mut client = target.connect().map_err(|e| e.to_string())?;
    let failed =
        |e: postgres::Error| format!("targets_query failed: {}", super::connect::error_text(&e));
    let mut tx = client
        .build_transaction()
        .read_only(true)
        .start()
        .map_err(failed)?;
    let rows = tx.query(query, &[]).map_err(failed)?;
    tx.rollback().map_err(failed)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let column = |name: &str| -> Result<Option<String>, String> {
            match row.columns().iter().position(|c| c.name() == name) {
                None => Ok(None),
                Some(i) => row
                    .try_get::<_, Option<String>>(i)
                    .map_err(|e| format!("targets_query: column {name} is not text: {e}")),
            }
        };
        let name = column("name")?.ok_or("targets_query must return a text column `name`")?;
        let url =
            column("url")?.ok_or_else(|| format!("targets_query: target `{name}` has no `url`"))?;
        out.push((name, url, column("group")?));
    }
    Ok(out)
}
