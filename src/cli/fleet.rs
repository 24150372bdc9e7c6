//! `keel fleet status|check|upgrade|downgrade|policies apply`: one plan on many databases
//! ([`crate::fleet`]), a line per target as it finishes and a summary table at the end.

use super::shared::{human, RunFlags};
use super::{Context, Failure};
use crate::fleet::{self, Action, Done, Fleet, Outcome, Selector, Summary};
use crate::migrate::{self, version_text, Event, Sink};
use crate::plan::Direction;
use crate::report::count;
use crate::report::json;
use crate::report::live::FleetLive;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct FleetArgs {
    /// Read [fleet] from this file instead of keel.toml
    #[arg(long, value_name = "FILE", global = true)]
    pub file: Option<PathBuf>,
    /// Only these targets: a name, tag:T or group:G (repeat, or separate with commas)
    #[arg(long, value_name = "SELECTOR", value_delimiter = ',', global = true)]
    pub only: Vec<String>,
    /// Leave these targets out: a name, tag:T or group:G
    #[arg(long, value_name = "SELECTOR", value_delimiter = ',', global = true)]
    pub exclude: Vec<String>,
    #[command(subcommand)]
    pub command: FleetCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum FleetCommand {
    /// Per target: reachable, version, pending, dirty, drift, policy drift
    Status,
    /// Per target: what `keel check` finds in its database
    Check,
    /// Apply migrations up to TARGET (default: head) on every target
    Upgrade {
        /// head, a version, or +N
        #[arg(default_value = "head", allow_negative_numbers = true)]
        target: String,
        #[command(flatten)]
        run: RunFlags,
    },
    /// Revert migrations down to TARGET on every target
    Downgrade {
        /// base, a version, or -N
        #[arg(allow_negative_numbers = true)]
        target: String,
        #[command(flatten)]
        run: RunFlags,
    },
    /// The Row Level Security stage on every target
    #[command(subcommand)]
    Policies(FleetPolicies),
}

#[derive(Debug, clap::Subcommand)]
pub enum FleetPolicies {
    /// Apply the declared policies at each database's version
    Apply {
        #[command(flatten)]
        run: RunFlags,
    },
}

/// Reports what loading the files found (the files are checked once for the whole fleet).
struct Diagnostics<'c>(&'c Context);

impl Sink for Diagnostics<'_> {
    fn event(&mut self, event: Event<'_>) {
        if let Event::Diagnostics(d) = event {
            self.0.reporter.diagnostics(d);
        }
    }
}

pub fn run(ctx: &Context, args: FleetArgs) -> Result<(), Failure> {
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from(crate::config::FILE_NAME));
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut fleet = Fleet::load(&file, &env).map_err(|e| Failure::usage(e.to_string(), None))?;
    if let Some(q) = fleet.query.clone() {
        let rows = fleet::query_targets(&q).map_err(|e| {
            Failure::failed(
                format!("{}: [fleet.targets_query]: {e}", file.display()),
                None,
            )
        })?;
        fleet
            .add_queried(rows)
            .map_err(|e| Failure::usage(e, None))?;
    }
    let parse = |v: &[String]| v.iter().map(|s| Selector::parse(s)).collect::<Vec<_>>();
    let targets = fleet::select(&fleet.targets, &parse(&args.only), &parse(&args.exclude))
        .map_err(|e| Failure::usage(e, Some("`keel fleet status` lists the targets".into())))?;

    let (action, config, name) = match &args.command {
        FleetCommand::Status => (Action::Status, ctx.config.clone(), "status"),
        FleetCommand::Check => (Action::Check, ctx.config.clone(), "check"),
        FleetCommand::Upgrade { target, run } => {
            (Action::Upgrade(target.clone()), run.config(ctx), "upgrade")
        }
        FleetCommand::Downgrade { target, run } => (
            Action::Downgrade(target.clone()),
            run.config(ctx),
            "downgrade",
        ),
        FleetCommand::Policies(FleetPolicies::Apply { run }) => {
            (Action::PoliciesApply, run.config(ctx), "policies apply")
        }
    };
    let prepared = migrate::prepare(&config, &mut Diagnostics(ctx)).map_err(Failure::from)?;

    let interrupted = Arc::new(AtomicBool::new(false));
    // The first Ctrl-C (or SIGTERM) starts nothing new and lets running targets finish or
    // roll back; a second ends keel at once.
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register_conditional_shutdown(
            sig,
            128 + sig,
            Arc::clone(&interrupted),
        );
        let _ = signal_hook::flag::register(sig, Arc::clone(&interrupted));
    }

    let r = &ctx.reporter;
    let width = targets
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(0)
        .min(40);
    let started = Instant::now();
    // On a terminal, below the finished targets' lines, what is running and how far the
    // fleet is.
    let mut live = FleetLive::start(r, targets.len(), width);
    let summary = fleet::run(
        &fleet,
        &targets,
        &action,
        &config,
        &prepared,
        &interrupted,
        &mut Lines {
            ctx,
            width,
            live: &live,
            per_target: action != Action::Status,
        },
    );
    live.finish();
    if interrupted.load(Ordering::SeqCst) {
        r.warning(
            "interrupted: no new target was started; the ones running finished or rolled back",
        );
    }
    if action == Action::Status {
        render_status(ctx, &summary, width);
    } else if r.json_output() {
        r.json(&json::FleetSummary::of(name, &summary, started.elapsed()));
    } else {
        render_summary(ctx, name, &summary, width, started);
    }
    if summary.succeeded() {
        Ok(())
    } else {
        Err(Failure::Reported)
    }
}

/// Prints a line per finished target and keeps the live view current.
struct Lines<'a> {
    ctx: &'a Context,
    width: usize,
    live: &'a FleetLive,
    /// `status` prints one table at the end instead.
    per_target: bool,
}

impl fleet::Observer for Lines<'_> {
    fn started(&mut self, target: &str) {
        self.live.started(target);
    }

    fn step(&mut self, target: &str, direction: Direction, migration: &str) {
        let verb = match direction {
            Direction::Up => "applying",
            Direction::Down => "reverting",
        };
        self.live.doing(target, format!("{verb} {migration}"));
    }

    fn done(&mut self, d: &Done) {
        let r = &self.ctx.reporter;
        if self.per_target && r.json_output() {
            r.json(&json::FleetTarget::of(d));
        }
        let text = (self.per_target && !r.json_output())
            .then(|| format!("{:<w$}  {}", d.name, line(d), w = self.width));
        self.live.done(d, text.as_deref());
    }
}

/// What one finished target says, after its name.
fn line(d: &Done) -> String {
    let took = human(d.elapsed);
    match &d.outcome {
        Outcome::Ran {
            from,
            to,
            steps,
            policy_changes,
        } => {
            let policies = match policy_changes {
                0 => String::new(),
                n => format!(", {}", count(*n, "policy change")),
            };
            if *steps == 0 {
                format!(
                    "at {}, nothing to run{policies}  {took}",
                    version_text(to.as_ref())
                )
            } else {
                format!(
                    "{} → {}  {}{policies}  {took}",
                    version_text(from.as_ref()),
                    version_text(to.as_ref()),
                    count(*steps, "migration")
                )
            }
        }
        Outcome::Checked { warnings } => match warnings {
            0 => format!("ok  {took}"),
            n => format!("ok, {}  {took}", count(*n, "warning")),
        },
        Outcome::Status(s) => status_text(s),
        Outcome::Failed { message, location } => match location {
            Some(at) => format!("FAILED  {at}: {message}  {took}"),
            None => format!("FAILED  {message}  {took}"),
        },
        Outcome::Unreachable { message } => format!("UNREACHABLE  {message}"),
        Outcome::Skipped { why } => format!("skipped: {why}"),
    }
}

fn status_text(s: &fleet::TargetStatus) -> String {
    let mut parts = vec![format!("at {}", version_text(s.current.as_ref()))];
    parts.push(match s.pending {
        0 => "at head".into(),
        n => format!("{n} pending"),
    });
    if let Some(v) = &s.dirty {
        parts.push(format!("DIRTY at {v}"));
    }
    if s.drift > 0 {
        parts.push(format!("{} changed since applied", s.drift));
    }
    if s.missing > 0 {
        parts.push(format!("{} applied without a file", s.missing));
    }
    if s.policy_drift {
        parts.push("policy drift".into());
    }
    parts.join(", ")
}

/// `keel fleet status`: one table, by target name.
fn render_status(ctx: &Context, summary: &Summary, width: usize) {
    let r = &ctx.reporter;
    let mut done: Vec<&Done> = summary.done.iter().collect();
    done.sort_by(|a, b| a.name.cmp(&b.name));
    if r.json_output() {
        r.json(&json::FleetStatus {
            targets: done.iter().map(|d| json::FleetStatusRow::of(d)).collect(),
        });
        return;
    }
    for d in &done {
        let what = match &d.outcome {
            Outcome::Status(s) => status_text(s),
            _ => line(d),
        };
        r.line(format!("{:<width$}  {what}", d.name));
    }
    let (unreachable, failed) = (summary.count("unreachable"), summary.count("failed"));
    let mut total = format!(
        "{}: {} reachable, {unreachable} unreachable",
        count(done.len(), "target"),
        done.len() - unreachable - summary.count("skipped"),
    );
    if failed > 0 {
        total.push_str(&format!(", {failed} could not be read"));
    }
    r.line(total);
}

/// The end of `upgrade`, `downgrade`, `check`, `policies apply`: counts, then what did not
/// succeed, target by target.
fn render_summary(ctx: &Context, name: &str, summary: &Summary, width: usize, started: Instant) {
    let r = &ctx.reporter;
    r.line(format!(
        "fleet {name}: {} succeeded, {} failed, {} unreachable, {} skipped ({}, {})",
        summary.count("ok"),
        summary.count("failed"),
        summary.count("unreachable"),
        summary.count("skipped"),
        count(summary.done.len(), "target"),
        human(started.elapsed())
    ));
    for word in ["failed", "unreachable", "skipped"] {
        let mut these: Vec<&Done> = summary
            .done
            .iter()
            .filter(|d| d.outcome.word() == word)
            .collect();
        if these.is_empty() {
            continue;
        }
        these.sort_by(|a, b| a.name.cmp(&b.name));
        r.line(format!("{word}:"));
        for d in these {
            r.line(format!("  {:<width$}  {}", d.name, line(d)));
        }
    }
}
