//! One plan applied to many databases ([`run`]): the files are loaded and checked once
//! ([`crate::migrate::prepare`]), then each database runs what `keel upgrade` would run there,
//! under its own lock and in its own transaction, `parallel` at a time, group after group.
//!
//! For an action that changes databases, a group starts only when the group before it
//! succeeded everywhere, and with `on_error = "stop"` no new target starts after a failure
//! (running ones finish or roll back); with `continue` the rest of the group is still tried.
//! `status` and `check` change nothing, so they read every selected target whatever
//! `on_error` and the groups say: holding a read back would only hide what the fleet holds.
//! An interruption (Ctrl-C) starts nothing new for any action.
//! Connections never exceed `parallel` (one session per worker; a targets query uses one more,
//! closed before any target starts), and what is kept per target is its [`Done`] record.

pub mod config;

pub use config::{select, Fleet, OnError, Selector, Target, TargetsQuery, Url};

use crate::config::Config;
use crate::diagnostic::Diagnostic;
use crate::migrate::{self, Database, Event, Prepared, Request, Sink};
use crate::plan::{Direction, Step};
use crate::project::Version;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What the fleet does on each target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `keel upgrade TARGET` (`head` by default).
    Upgrade(String),
    /// `keel downgrade TARGET`.
    Downgrade(String),
    /// `keel policies apply`.
    PoliciesApply,
    /// `keel check` against the database: drift, dirt, missing files, INVALID indexes.
    Check,
    /// `keel current` and more: version, pending, dirty, drift, policy drift.
    Status,
}

impl Action {
    /// Whether the action writes to databases: only then does a failed group hold the next
    /// one back and `on_error = "stop"` stop the rest: a read cannot make anything
    /// worse and is what shows where the fleet stands.
    pub fn changes_databases(&self) -> bool {
        !matches!(self, Action::Check | Action::Status)
    }
}

/// How one target ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Upgrade, downgrade or policies apply succeeded.
    Ran {
        from: Option<Version>,
        to: Option<Version>,
        steps: usize,
        policy_changes: usize,
    },
    /// `status`: what the database holds.
    Status(TargetStatus),
    /// `check` found nothing wrong (warnings are counted).
    Checked { warnings: usize },
    /// The work failed: the error's first line, and where.
    Failed {
        message: String,
        location: Option<String>,
    },
    /// keel could not connect (or the target's `url_env` is not set).
    Unreachable { message: String },
    /// Never started: why.
    Skipped { why: &'static str },
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        matches!(
            self,
            Outcome::Ran { .. } | Outcome::Status(_) | Outcome::Checked { .. }
        )
    }

    /// `ok`, `failed`, `unreachable` or `skipped`.
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Ran { .. } | Outcome::Status(_) | Outcome::Checked { .. } => "ok",
            Outcome::Failed { .. } => "failed",
            Outcome::Unreachable { .. } => "unreachable",
            Outcome::Skipped { .. } => "skipped",
        }
    }
}

/// `keel fleet status` for one database: what [`migrate::database_status`] reads.
pub type TargetStatus = migrate::DatabaseStatus;

/// One target, finished (or skipped).
#[derive(Debug, Clone)]
pub struct Done {
    pub name: String,
    pub group: String,
    pub outcome: Outcome,
    pub elapsed: Duration,
}

/// How a fleet run went, target by target, in the order they finished.
#[derive(Debug, Default)]
pub struct Summary {
    pub done: Vec<Done>,
}

impl Summary {
    pub fn succeeded(&self) -> bool {
        self.done.iter().all(|d| d.outcome.succeeded())
    }

    pub fn count(&self, word: &str) -> usize {
        self.done
            .iter()
            .filter(|d| d.outcome.word() == word)
            .count()
    }
}

/// Told about each target as it starts, as each of its migrations starts, and as it finishes
/// (or is skipped).
pub trait Observer {
    fn started(&mut self, _target: &str) {}
    /// `migration` (`0042_add_item_index`) starts on `target`, going `direction`.
    fn step(&mut self, _target: &str, _direction: Direction, _migration: &str) {}
    fn done(&mut self, done: &Done);
}

/// What a worker tells the thread that observes.
enum Message {
    Started(usize),
    Step(usize, Direction, String),
    Done(Done),
}

/// Runs `action` on `targets` (in the fleet's groups, `fleet.parallel` at a time), telling
/// `observer` about each as it starts and finishes. `interrupted` (set by a signal) starts
/// nothing new.
pub fn run(
    fleet: &Fleet,
    targets: &[&Target],
    action: &Action,
    config: &Config,
    prepared: &Prepared,
    interrupted: &AtomicBool,
    observer: &mut dyn Observer,
) -> Summary {
    let mut summary = Summary::default();
    let mut blocked: Option<&'static str> = None;
    for group in &fleet.groups {
        let members: Vec<&Target> = targets
            .iter()
            .copied()
            .filter(|t| &t.group == group)
            .collect();
        if members.is_empty() {
            continue;
        }
        if let Some(why) = blocked {
            for t in members {
                let d = skipped(t, why);
                observer.done(&d);
                summary.done.push(d);
            }
            continue;
        }
        let before = summary.done.len();
        let job = Job {
            fleet,
            action,
            config,
            prepared,
            interrupted,
        };
        run_group(&job, &members, observer, &mut summary);
        if interrupted.load(Ordering::SeqCst) {
            blocked = Some("interrupted");
        } else if action.changes_databases()
            && !summary.done[before..].iter().all(|d| d.outcome.succeeded())
        {
            blocked = Some("an earlier group did not succeed everywhere");
        }
    }
    summary
}

fn skipped(t: &Target, why: &'static str) -> Done {
    Done {
        name: t.name.clone(),
        group: t.group.clone(),
        outcome: Outcome::Skipped { why },
        elapsed: Duration::ZERO,
    }
}

/// What every target of a run shares.
struct Job<'a> {
    fleet: &'a Fleet,
    action: &'a Action,
    config: &'a Config,
    prepared: &'a Prepared,
    interrupted: &'a AtomicBool,
}

/// One group: `parallel` workers take targets in order until none is left, a failure stops
/// the group (`on_error = "stop"`, for an action that changes databases) or `interrupted`
/// is set.
fn run_group(
    job: &Job<'_>,
    members: &[&Target],
    observer: &mut dyn Observer,
    summary: &mut Summary,
) {
    let Job {
        fleet,
        action,
        config,
        prepared,
        interrupted,
    } = *job;
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let started: Vec<AtomicBool> = members.iter().map(|_| AtomicBool::new(false)).collect();
    let (tx, rx) = mpsc::channel::<Message>();
    std::thread::scope(|scope| {
        for _ in 0..fleet.parallel.min(members.len()) {
            let tx = tx.clone();
            let (next, stop, started) = (&next, &stop, &started);
            scope.spawn(move || loop {
                if stop.load(Ordering::SeqCst) || interrupted.load(Ordering::SeqCst) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(target) = members.get(i) else { break };
                started[i].store(true, Ordering::SeqCst);
                let _ = tx.send(Message::Started(i));
                let t0 = Instant::now();
                let mut step = |step: &Step<'_>| {
                    let _ = tx.send(Message::Step(i, step.direction, step.migration.id()));
                };
                let outcome = run_one(target, action, config, prepared, &mut step);
                if !outcome.succeeded()
                    && fleet.on_error == OnError::Stop
                    && action.changes_databases()
                {
                    stop.store(true, Ordering::SeqCst);
                }
                let done = Done {
                    name: target.name.clone(),
                    group: target.group.clone(),
                    outcome,
                    elapsed: t0.elapsed(),
                };
                if tx.send(Message::Done(done)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for message in rx {
            match message {
                Message::Started(i) => observer.started(&members[i].name),
                Message::Step(i, direction, migration) => {
                    observer.step(&members[i].name, direction, &migration)
                }
                Message::Done(done) => {
                    observer.done(&done);
                    summary.done.push(done);
                }
            }
        }
    });
    let why = if interrupted.load(Ordering::SeqCst) {
        "interrupted"
    } else {
        "stopped after a failure (on_error = \"stop\")"
    };
    for (t, s) in members.iter().zip(&started) {
        if !s.load(Ordering::SeqCst) {
            let d = skipped(t, why);
            observer.done(&d);
            summary.done.push(d);
        }
    }
}

/// What a run on one target reports: the first error diagnostic is kept, and each step is
/// passed on as it starts.
struct TargetSink<'a> {
    first_error: Option<Diagnostic>,
    step: &'a mut dyn FnMut(&Step<'_>),
}

impl Sink for TargetSink<'_> {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Diagnostics(diags) if self.first_error.is_none() => {
                self.first_error = diags.iter().find(|d| d.is_error()).cloned();
            }
            Event::StepStarted(step) => (self.step)(step),
            _ => {}
        }
    }
}

/// Runs `action` on `target`, telling `step` about each migration as it starts.
fn run_one(
    target: &Target,
    action: &Action,
    config: &Config,
    prepared: &Prepared,
    step: &mut dyn FnMut(&Step<'_>),
) -> Outcome {
    let url = match &target.url {
        Ok(u) => u.as_str().to_string(),
        Err(why) => {
            return Outcome::Unreachable {
                message: why.clone(),
            }
        }
    };
    let database = Database {
        config: config.clone(),
        database_url: Some(url),
        lock_timeout: None,
        // The first Ctrl-C lets running targets finish or roll back: nothing cancels them.
        interrupt: None,
    };
    let mut sink = TargetSink {
        first_error: None,
        step,
    };
    let result = match action {
        Action::Upgrade(t) | Action::Downgrade(t) => {
            let req = Request {
                database,
                direction: if matches!(action, Action::Upgrade(_)) {
                    Direction::Up
                } else {
                    Direction::Down
                },
                target: t.clone(),
                per_migration: false,
                strict: false,
            };
            migrate::run_prepared(&req, prepared, &mut sink).map(|r| Outcome::Ran {
                from: r.from,
                to: r.to,
                steps: r.steps,
                policy_changes: r.policy_changes.iter().filter(|c| !c.unchanged).count(),
            })
        }
        Action::PoliciesApply => migrate::apply_prepared_policies(&database, prepared, &mut sink)
            .map(|(at, changes)| Outcome::Ran {
                from: at,
                to: at,
                steps: 0,
                policy_changes: changes,
            }),
        Action::Check => migrate::check_database(&database, prepared, &mut sink).map(|diags| {
            match diags.iter().find(|d| d.is_error()) {
                Some(first) => Outcome::Failed {
                    message: first.message.clone(),
                    location: first.location(),
                },
                None => Outcome::Checked {
                    warnings: diags.len(),
                },
            }
        }),
        Action::Status => {
            migrate::database_status(&database, prepared, &mut sink).map(Outcome::Status)
        }
    };
    match result {
        Ok(outcome) => outcome,
        Err(migrate::Error::Unreachable { message, .. }) => Outcome::Unreachable {
            message: first_line(&message),
        },
        Err(e) => {
            let first = sink.first_error;
            Outcome::Failed {
                message: match &first {
                    Some(d) => first_line(&d.message),
                    None => first_line(&e.to_string()),
                },
                location: first.and_then(|d| d.location()),
            }
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

/// The targets a [`TargetsQuery`] lists: rows of `name`, `url` and optionally `group`.
pub fn query_targets(q: &TargetsQuery) -> Result<Vec<(String, String, Option<String>)>, String> {
    crate::db::fleet::query_targets(q.url.as_str(), &q.query)
}
