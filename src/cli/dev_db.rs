//! `keel dev-db start|stop|status|url`: a local throwaway PostgreSQL under
//! `.keel/`, made from the machine's own server binaries.

use super::{Context, Failure};
use crate::db::cluster::DevDb;
use crate::report::json;

#[derive(Debug, clap::Subcommand)]
pub enum DevDbCommand {
    /// Create (if needed) and start the local database
    Start(StartArgs),
    /// Stop it (data stays)
    Stop,
    /// Stop it and delete it with its data
    Destroy,
    /// Running or not, and where
    Status,
    /// Print its URL (for DATABASE_URL)
    Url,
}

#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// The PostgreSQL major to create it with (13 to 18; default: the newest found). An
    /// existing database keeps the major that made it.
    #[arg(long = "pg", value_name = "MAJOR")]
    pub pg: Option<u32>,
}

pub fn run(ctx: &Context, cmd: DevDbCommand) -> Result<(), Failure> {
    let fail = |e: crate::db::cluster::ClusterError| {
        let (message, hint) = e.message_and_hint();
        Failure::failed(message, Some(hint.unwrap_or_else(|| "`keel dev-db` needs the PostgreSQL server package (e.g. `apt-get install postgresql`)".to_string())))
    };
    let dev = DevDb::new(".").map_err(fail)?;
    let r = &ctx.reporter;
    match cmd {
        DevDbCommand::Start(args) => {
            let s = dev.start_major(args.pg).map_err(fail)?;
            let major = dev.made_by().map_err(fail)?;
            if r.json_output() {
                r.json(&json::DevDbStarted {
                    running: s.running,
                    url: &s.url,
                    data_dir: &s.data_dir,
                    pg_major: major,
                });
            } else {
                r.note(format!(
                    "dev database running (PostgreSQL {}, pid {}), data in {}",
                    major.map_or("?".into(), |m| m.to_string()),
                    s.pid.map_or("?".into(), |p| p.to_string()),
                    s.data_dir.display()
                ));
                r.line(s.url);
            }
        }
        DevDbCommand::Stop => {
            dev.stop().map_err(fail)?;
            if r.json_output() {
                r.json(&json::DevDbStopped {
                    running: false,
                    data_dir: dev.data_dir(),
                });
            } else {
                r.note("dev database stopped");
            }
        }
        DevDbCommand::Destroy => {
            let data = dev.data_dir().to_path_buf();
            dev.destroy().map_err(fail)?;
            if r.json_output() {
                r.json(&json::DevDbDestroyed {
                    deleted: true,
                    data_dir: &data,
                });
            } else {
                r.note(format!("dev database deleted ({})", data.display()));
            }
        }
        DevDbCommand::Status => {
            let s = dev.status().map_err(fail)?;
            let major = dev.made_by().map_err(fail)?;
            if r.json_output() {
                r.json(&json::DevDbStatus {
                    running: s.running,
                    pid: s.pid,
                    url: &s.url,
                    data_dir: &s.data_dir,
                    log: &s.log_file,
                    pg_major: major,
                });
            } else {
                r.line(if s.running {
                    format!("running (pid {})", s.pid.unwrap_or_default())
                } else {
                    "stopped".into()
                });
                r.line(format!(
                    "pg:   {}",
                    major.map_or("not created yet".into(), |m| format!("PostgreSQL {m}"))
                ));
                r.line(format!("data: {}", s.data_dir.display()));
                r.line(format!("url:  {}", s.url));
            }
            if !s.running {
                return Err(Failure::Reported);
            }
        }
        DevDbCommand::Url => {
            let url = dev.url();
            if r.json_output() {
                r.json(&json::DevDbUrl { url: &url });
            } else {
                r.line(url);
            }
        }
    }
    Ok(())
}
