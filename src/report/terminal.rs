//! The terminal reporter: live progress while scenarios run, the full
//! report of each scenario when it ends, and one summary line.
//!
//! On a terminal (only for stdout, see [`TerminalReporter::stdout`]) each
//! running scenario has a spinner line
//! `⠋ nginx-pod-lifecycle  [  3.2s] step 2 expect Pod/nginx: creating`;
//! elsewhere a scenario's start is one plain line, so logs stay readable.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::runner::{RunEvent, RunEventKind, RunSummary};

use super::format::{BracketedDuration, status_word};
use super::scenario::render_scenario;
use super::styles::{ColorChoice, Styles, paint};

/// How running scenarios are shown.
enum Live {
    /// One line when a scenario starts.
    Lines,
    /// A spinner per running scenario, drawn on stdout.
    Spinners {
        multi: MultiProgress,
        bars: HashMap<String, ProgressBar>,
    },
}

/// What a spinner says about its scenario, updated as events arrive.
#[derive(Default)]
struct Progress {
    step: Option<(usize, String)>,
    /// The latest observed state or matched step.
    state: Option<String>,
}

/// Cleanup results gathered for the summary.
#[derive(Default)]
struct CleanupTotals {
    deleted: Vec<String>,
    left: Vec<String>,
    errors: Vec<String>,
}

pub struct TerminalReporter {
    out: Box<dyn Write + Send>,
    styles: Styles,
    live: Live,
    progress: HashMap<String, Progress>,
    finished: usize,
    cleanup: CleanupTotals,
    /// The first write error; reported by [`TerminalReporter::finish`].
    error: Option<io::Error>,
}

impl TerminalReporter {
    /// Writes to `out`, with colors as `color` says; no spinners (they can
    /// only be drawn on a terminal).
    pub fn new(out: impl Write + Send + 'static, color: ColorChoice) -> TerminalReporter {
        TerminalReporter {
            out: Box::new(out),
            styles: Styles::for_choice(color),
            live: Live::Lines,
            progress: HashMap::new(),
            finished: 0,
            cleanup: CleanupTotals::default(),
            error: None,
        }
    }

    /// Writes to stdout, with spinners when stdout is a terminal.
    pub fn stdout(color: ColorChoice) -> TerminalReporter {
        let mut reporter = TerminalReporter::new(io::stdout(), color);
        if io::stdout().is_terminal() {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
            reporter.live = Live::Spinners {
                multi,
                bars: HashMap::new(),
            };
        }
        reporter
    }

    pub fn handle(&mut self, event: &RunEvent) {
        match &event.kind {
            RunEventKind::RunStarted { scenarios } => {
                let plural = if *scenarios == 1 { "" } else { "s" };
                let line = format!(
                    "{} {scenarios} scenario{plural}\n",
                    paint(self.styles.bold, status_word("Starting"))
                );
                self.write(&line);
            }
            RunEventKind::ScenarioStarted {
                scenario,
                file,
                namespace,
            } => {
                self.progress.insert(scenario.clone(), Progress::default());
                match &mut self.live {
                    Live::Lines => {
                        let line = format!(
                            "{} {} {}\n",
                            paint(self.styles.dim, status_word("START")),
                            paint(self.styles.bold, scenario),
                            paint(
                                self.styles.dim,
                                format!("({}, namespace {namespace})", file.display())
                            )
                        );
                        self.write(&line);
                    }
                    Live::Spinners { multi, bars } => {
                        let bar = multi.add(spinner(scenario));
                        bars.insert(scenario.clone(), bar);
                    }
                }
            }
            RunEventKind::StepStarted {
                scenario,
                step,
                description,
            } => {
                if let Some(progress) = self.progress.get_mut(scenario) {
                    progress.step = Some((*step, description.clone()));
                    progress.state = None;
                }
                self.update_spinner(scenario);
            }
            RunEventKind::Observed {
                scenario, label, ..
            } => {
                if let (Some(progress), Some(label)) = (self.progress.get_mut(scenario), label) {
                    progress.state = Some(label.clone());
                }
                self.update_spinner(scenario);
            }
            RunEventKind::StepMatched {
                scenario, state, ..
            } => {
                if let Some(progress) = self.progress.get_mut(scenario) {
                    progress.state = Some(format!("✓ {state}"));
                }
                self.update_spinner(scenario);
            }
            RunEventKind::ScenarioFinished { report } => {
                self.progress.remove(&report.name);
                if let Live::Spinners { bars, multi } = &mut self.live
                    && let Some(bar) = bars.remove(&report.name)
                {
                    bar.finish_and_clear();
                    multi.remove(&bar);
                }
                self.finished += 1;
                let text = render_scenario(report, &self.styles);
                self.write(&text);
            }
            RunEventKind::Interrupted { signal } => {
                let line = format!(
                    "{} by {signal}: stopping and cleaning up\n",
                    paint(self.styles.fail, status_word("INTERRUPTED"))
                );
                self.write(&line);
            }
            RunEventKind::Cleanup {
                deleted,
                left,
                errors,
                ..
            } => {
                self.cleanup.deleted.extend(deleted.iter().cloned());
                self.cleanup.left.extend(left.iter().cloned());
                self.cleanup.errors.extend(errors.iter().cloned());
            }
            RunEventKind::RunFinished { summary } => {
                let text = self.summary(summary);
                self.write(&text);
            }
        }
    }

    /// Clears spinners and flushes; the first write error, if any.
    pub fn finish(&mut self) -> io::Result<()> {
        if let Live::Spinners { bars, .. } = &mut self.live {
            for (_, bar) in bars.drain() {
                bar.finish_and_clear();
            }
        }
        if let Err(e) = self.out.flush() {
            self.error.get_or_insert(e);
        }
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// ` Summary [  12.345s] 9 scenarios: 8 passed, 1 failed, 0 errors`,
    /// then what cleanup did.
    fn summary(&self, summary: &RunSummary) -> String {
        let total = summary.passed + summary.failed + summary.errors;
        let plural = if total == 1 { "" } else { "s" };
        let count = |n: usize, word: &str, style| {
            if n > 0 {
                paint(style, format!("{n} {word}"))
            } else {
                format!("{n} {word}")
            }
        };
        let mut line = format!(
            "{} {} {total} scenario{plural}: {}, {}, {}",
            paint(self.styles.bold, status_word("Summary")),
            BracketedDuration(summary.duration),
            count(summary.passed, "passed", self.styles.pass),
            count(summary.failed, "failed", self.styles.fail),
            count(
                summary.errors,
                if summary.errors == 1 {
                    "error"
                } else {
                    "errors"
                },
                self.styles.error
            ),
        );
        if summary.skipped > 0 {
            let _ = write!(line, ", {} skipped", summary.skipped);
        }
        if summary.interrupted {
            let _ = write!(line, " ({})", paint(self.styles.fail, "interrupted"));
        }
        line.push('\n');
        let cleanup = &self.cleanup;
        if !cleanup.deleted.is_empty() {
            let n = cleanup.deleted.len();
            let _ = writeln!(
                line,
                "{} deleted {n} namespace{}: {}",
                paint(self.styles.dim, status_word("Cleanup")),
                if n == 1 { "" } else { "s" },
                cleanup.deleted.join(", ")
            );
        }
        for left in &cleanup.left {
            let _ = writeln!(
                line,
                "{} kept {left}",
                paint(self.styles.dim, status_word("Cleanup"))
            );
        }
        for error in &cleanup.errors {
            let _ = writeln!(
                line,
                "{} failed: {}",
                paint(self.styles.error, status_word("Cleanup")),
                paint(self.styles.error, error)
            );
        }
        line
    }

    fn update_spinner(&self, scenario: &str) {
        let (Live::Spinners { bars, .. }, Some(progress)) =
            (&self.live, self.progress.get(scenario))
        else {
            return;
        };
        let Some(bar) = bars.get(scenario) else {
            return;
        };
        let mut message = String::new();
        if let Some((step, description)) = &progress.step {
            let _ = write!(message, "step {} {description}", step + 1);
        }
        if let Some(state) = &progress.state {
            let _ = write!(message, ": {state}");
        }
        bar.set_message(message);
    }

    /// Write text; with spinners, hide them while it is written.
    fn write(&mut self, text: &str) {
        let out = &mut self.out;
        let result = match &self.live {
            Live::Lines => out.write_all(text.as_bytes()),
            Live::Spinners { multi, .. } => multi.suspend(|| {
                out.write_all(text.as_bytes())?;
                out.flush()
            }),
        };
        if let Err(e) = result {
            self.error.get_or_insert(e);
        }
    }
}

/// `⠋ nginx-pod-lifecycle  [  3.2s] step 2 expect Pod/nginx: creating`.
fn spinner(scenario: &str) -> ProgressBar {
    let seconds = |state: &ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = write!(w, "{:>5.1}s", state.elapsed().as_secs_f64());
    };
    let style = ProgressStyle::with_template("{spinner} {prefix}  [{seconds}] {msg}")
        .map(|s| s.with_key("seconds", seconds))
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let bar = ProgressBar::new_spinner()
        .with_style(style)
        .with_prefix(scenario.to_string());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}
