//! `keel fleet`'s live view on a terminal: below the finished targets' lines, a line per running
//! target (a spinner, its name, its seconds, the migration it runs), `+N more running` when they
//! do not all fit, and an overall line. Nothing shows for the first second, and it is cleared
//! before the summary. Elsewhere (a pipe, a file, `--quiet`, JSON) the finished lines are plain
//! notes and nothing is animated.

use super::spinner::{DELAY, FRAMES};
use super::Reporter;
use crate::fleet::Done;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// At most this many running targets get a line of their own: `parallel` may be in the
/// hundreds, and the view should stay a glance.
const MAX_LINES: usize = 8;
/// How often the seconds, the spinners and the terminal's size are read again.
const TICK: Duration = Duration::from_millis(100);
/// The lines' templates: the text is composed here, and `wide_msg` cuts it to the terminal's
/// width.
const RUNNING: &str = "{spinner} {wide_msg}";
const INDENTED: &str = "  {wide_msg}";

/// How many running targets get a line and how many are counted in `+N more running`, for
/// `running` targets on a terminal of `rows` rows. The overall line and the cursor's row are
/// kept free, so the view never scrolls its own top away.
fn layout(running: usize, rows: usize) -> (usize, usize) {
    let room = rows.saturating_sub(2);
    if running <= room.min(MAX_LINES) {
        (running, 0)
    } else {
        let lines = MAX_LINES.min(room.saturating_sub(1));
        (lines, running - lines)
    }
}

/// A running target's line, after its spinner: `tenant_042   3.2 s  applying 0042_x`.
fn running_text(name: &str, width: usize, elapsed: Duration, doing: &str) -> String {
    let mut text = format!("{name:<width$}  {:>5.1} s", elapsed.as_secs_f64());
    if !doing.is_empty() {
        text.push_str("  ");
        text.push_str(doing);
    }
    text
}

/// The overall line: `12/30 done, 1 not ok  8.4 s`.
fn overall_text(done: usize, total: usize, not_ok: usize, elapsed: Duration) -> String {
    let mut text = format!("{done}/{total} done");
    if not_ok > 0 {
        text.push_str(&format!(", {not_ok} not ok"));
    }
    text.push_str(&format!("  {:.1} s", elapsed.as_secs_f64()));
    text
}

/// The live view of one fleet run; inert (finished lines become notes) where it does not draw.
pub struct FleetLive {
    reporter: Reporter,
    view: Option<Arc<View>>,
    ticker: Option<JoinHandle<()>>,
}

struct View {
    multi: MultiProgress,
    state: Mutex<State>,
    stop: AtomicBool,
    started: Instant,
    /// Names are padded to this, as in the finished lines.
    width: usize,
}

struct State {
    total: usize,
    done: usize,
    not_ok: usize,
    /// Past [`DELAY`]: drawing on stderr (before, the bars exist but draw nowhere).
    shown: bool,
    /// In the order they started; those with a line are always the first ones.
    running: Vec<Running>,
    more: Option<ProgressBar>,
    overall: ProgressBar,
}

impl State {
    /// Brings the overall line up to date.
    fn show_overall(&self, started: Instant) {
        self.overall.set_message(overall_text(
            self.done,
            self.total,
            self.not_ok,
            started.elapsed(),
        ));
    }
}

struct Running {
    name: String,
    since: Instant,
    doing: String,
    bar: Option<ProgressBar>,
}

fn style(template: &str) -> ProgressStyle {
    let mut ticks: Vec<&str> = FRAMES.to_vec();
    ticks.push(" ");
    ProgressStyle::with_template(template)
        .expect("a valid template")
        .tick_strings(&ticks)
}

impl FleetLive {
    /// The view of a run of `total` targets whose names are padded to `width`: drawn when
    /// stderr is a terminal (one indicatif draws on, so not `TERM=dumb`), in text mode without
    /// `--quiet`.
    pub fn start(reporter: &Reporter, total: usize, width: usize) -> FleetLive {
        let reporter = reporter.clone();
        let draws = reporter.format == super::Format::Text
            && !reporter.quiet
            && std::io::stderr().is_terminal()
            && !ProgressDrawTarget::stderr().is_hidden();
        if !draws {
            return FleetLive {
                reporter,
                view: None,
                ticker: None,
            };
        }
        // Nothing is drawn until the first tick past DELAY gives it a terminal.
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::hidden());
        let overall = multi.add(ProgressBar::hidden().with_style(style(INDENTED)));
        let view = Arc::new(View {
            multi,
            state: Mutex::new(State {
                total,
                done: 0,
                not_ok: 0,
                shown: false,
                running: Vec::new(),
                more: None,
                overall,
            }),
            stop: AtomicBool::new(false),
            started: Instant::now(),
            width,
        });
        let ticking = Arc::clone(&view);
        let ticker = std::thread::spawn(move || {
            while !ticking.stop.load(Ordering::SeqCst) {
                std::thread::park_timeout(TICK);
                ticking.tick();
            }
        });
        FleetLive {
            reporter,
            view: Some(view),
            ticker: Some(ticker),
        }
    }

    /// `target` started.
    pub fn started(&self, target: &str) {
        if let Some(view) = &self.view {
            let mut state = view.lock();
            state.running.push(Running {
                name: target.to_string(),
                since: Instant::now(),
                doing: String::new(),
                bar: None,
            });
            view.arrange(&mut state);
        }
    }

    /// What `target` is doing now (`applying 0042_add_item_index`).
    pub fn doing(&self, target: &str, what: String) {
        if let Some(view) = &self.view {
            let mut state = view.lock();
            if let Some(r) = state.running.iter_mut().find(|r| r.name == target) {
                r.doing = what;
                if let Some(bar) = &r.bar {
                    bar.set_message(running_text(
                        &r.name,
                        view.width,
                        r.since.elapsed(),
                        &r.doing,
                    ));
                }
            }
        }
    }

    /// A target finished (or was skipped); `line`, when given, is printed above the view for
    /// good.
    pub fn done(&self, d: &Done, line: Option<&str>) {
        let Some(view) = &self.view else {
            if let Some(line) = line {
                self.reporter.note(line);
            }
            return;
        };
        let mut state = view.lock();
        if let Some(i) = state.running.iter().position(|r| r.name == d.name) {
            if let Some(bar) = state.running.remove(i).bar {
                view.multi.remove(&bar);
            }
        }
        // Printed before the rest is brought up to date: removing a bar draws nothing, so
        // the target's line takes its place in the same redraw.
        if let Some(line) = line {
            if state.shown {
                let _ = view.multi.println(line);
            } else {
                // Not on the terminal yet: indicatif would drop the line.
                self.reporter.note(line);
            }
        }
        state.done += 1;
        if !d.outcome.succeeded() {
            state.not_ok += 1;
        }
        state.show_overall(view.started);
        view.arrange(&mut state);
    }

    /// Stops and clears the view. Dropping it does the same, so no way out of a run leaves
    /// the view on the screen.
    pub fn finish(&mut self) {
        let Some(view) = self.view.take() else {
            return;
        };
        view.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.ticker.take() {
            t.thread().unpark();
            let _ = t.join();
        }
        let mut state = view.lock();
        for r in &mut state.running {
            if let Some(bar) = r.bar.take() {
                bar.finish_and_clear();
            }
        }
        if let Some(more) = state.more.take() {
            more.finish_and_clear();
        }
        state.overall.finish_and_clear();
        let _ = view.multi.clear();
        view.multi.set_draw_target(ProgressDrawTarget::hidden());
    }
}

impl Drop for FleetLive {
    fn drop(&mut self) {
        self.finish();
    }
}

impl View {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Gives lines to the running targets that fit (the first to start), takes them from
    /// those that no longer do, and keeps `+N more running` true.
    fn arrange(&self, state: &mut State) {
        let rows = console::Term::stderr().size().0 as usize;
        let (lines, more) = layout(state.running.len(), rows);
        let State {
            running,
            more: more_bar,
            overall,
            ..
        } = state;
        for r in running.iter_mut().skip(lines) {
            if let Some(bar) = r.bar.take() {
                self.multi.remove(&bar);
            }
        }
        match (more, more_bar.as_ref()) {
            (0, Some(bar)) => {
                self.multi.remove(bar);
                *more_bar = None;
            }
            (1.., None) => {
                *more_bar = Some(
                    self.multi
                        .insert_before(overall, ProgressBar::hidden().with_style(style(INDENTED))),
                );
            }
            _ => {}
        }
        if let Some(bar) = more_bar.as_ref() {
            bar.set_message(format!("+{more} more running"));
        }
        // Lines are inserted just above `+N more` (or the overall line), so they keep the
        // order the targets started in.
        let anchor = more_bar.as_ref().unwrap_or(overall);
        for r in running.iter_mut().take(lines) {
            let bar = r.bar.get_or_insert_with(|| {
                self.multi
                    .insert_before(anchor, ProgressBar::hidden().with_style(style(RUNNING)))
            });
            bar.set_message(running_text(
                &r.name,
                self.width,
                r.since.elapsed(),
                &r.doing,
            ));
        }
    }

    /// Once a tick: shows the view past [`DELAY`], then brings every line up to date.
    fn tick(&self) {
        let mut state = self.lock();
        if self.stop.load(Ordering::SeqCst) {
            return;
        }
        if !state.shown {
            if self.started.elapsed() < DELAY {
                return;
            }
            self.multi.set_draw_target(ProgressDrawTarget::stderr());
            state.shown = true;
        }
        // The overall line first, so that every frame drawn below carries it.
        state.show_overall(self.started);
        self.arrange(&mut state);
        for bar in state.running.iter().filter_map(|r| r.bar.as_ref()) {
            bar.tick();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_running_target_has_a_line_while_they_fit() {
        assert_eq!(layout(0, 24), (0, 0));
        assert_eq!(layout(3, 24), (3, 0));
        assert_eq!(layout(MAX_LINES, 24), (MAX_LINES, 0));
    }

    #[test]
    fn more_than_eight_are_counted_on_one_line() {
        assert_eq!(layout(9, 24), (8, 1));
        assert_eq!(layout(200, 50), (8, 192));
    }

    #[test]
    fn a_short_terminal_gets_fewer_lines() {
        // 6 rows: the overall line, the cursor's row, and 4 for running targets.
        assert_eq!(layout(4, 6), (4, 0));
        // One more than fits: 3 lines and `+2 more running`.
        assert_eq!(layout(5, 6), (3, 2));
        // No room for any line of its own: only the count.
        assert_eq!(layout(5, 3), (0, 5));
        assert_eq!(layout(5, 0), (0, 5));
        for rows in 0..40 {
            for running in 0..30 {
                let (lines, more) = layout(running, rows);
                assert_eq!(lines + more, running, "{running} on {rows} rows");
                assert!(lines <= MAX_LINES);
                if rows >= 3 {
                    // Lines, `+N more` when there is one, and the overall line.
                    assert!(
                        lines + usize::from(more > 0) + 1 < rows,
                        "{running} on {rows}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_templates_parse() {
        for template in [RUNNING, INDENTED] {
            assert!(ProgressStyle::with_template(template).is_ok(), "{template}");
        }
    }

    #[test]
    fn lines_read_as_the_finished_ones_do() {
        assert_eq!(
            running_text("t01", 6, Duration::from_millis(3240), "applying 0004_slow"),
            "t01       3.2 s  applying 0004_slow"
        );
        assert_eq!(
            running_text("tenant_042", 6, Duration::from_secs(61), ""),
            "tenant_042   61.0 s"
        );
        assert_eq!(
            overall_text(12, 30, 0, Duration::from_millis(8400)),
            "12/30 done  8.4 s"
        );
        assert_eq!(
            overall_text(12, 30, 1, Duration::from_millis(8400)),
            "12/30 done, 1 not ok  8.4 s"
        );
    }
}
