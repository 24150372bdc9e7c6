//! The append-only event log of every run.

use crate::db::DbError;
use crate::project::Version;
use postgres::GenericClient;

/// One entry of the event log.
#[derive(Debug, Clone, Default)]
pub struct Event<'a> {
    pub command: &'a str,
    pub target: Option<&'a str>,
    pub from: Option<&'a Version>,
    pub to: Option<&'a Version>,
    pub outcome: &'a str,
    pub detail: Option<String>,
    pub waited_ms: Option<f64>,
}

/// Appends to the event log.
pub fn log_event(
    client: &mut impl GenericClient,
    schema: &str,
    e: &Event<'_>,
) -> Result<(), DbError> {
    let num = |v: Option<&Version>| v.map(|v| v.number().to_string());
    client
        .execute(
            &format!(
                "INSERT INTO {schema}.events
                   (command, target, from_version, to_version, outcome, detail, waited_ms, client_host, keel_version)
                 VALUES ($1, $2, $3::text::numeric, $4::text::numeric, $5, $6, $7, $8, $9)"
            ),
            &[
                &e.command,
                &e.target,
                &num(e.from),
                &num(e.to),
                &e.outcome,
                &e.detail,
                &e.waited_ms,
                &client_host(),
                &env!("CARGO_PKG_VERSION"),
            ],
        )
        .map_err(|e| DbError::query("writing the event log", &e))?;
    Ok(())
}

/// This machine's host name, for "from which host".
pub fn client_host() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}
