//! The fan-out: one [`EventSink`] that hands each event to the configured
//! outputs (terminal, JSON, JUnit and HTML files).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::runner::{EventSink, RunEvent, RunEventKind};

use super::html::to_html;
use super::json::to_json;
use super::junit::to_junit;
use super::run::RunRecord;
use super::styles::ColorChoice;
use super::terminal::TerminalReporter;

/// Receives the runner's events and reports them. Share it with the runner
/// (`&reporter` or an `Arc`), then call [`Reporter::finish`].
///
/// ```no_run
/// use kspy::report::{Reporter, color_choice_for_stdout};
/// let reporter = Reporter::builder()
///     .stdout(color_choice_for_stdout())
///     .json("report.json")
///     .junit("junit.xml")
///     .html("report.html")
///     .build();
/// // runner.run(&reporter) ...
/// reporter.finish()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Reporter {
    inner: Mutex<Outputs>,
}

struct Outputs {
    terminal: Option<TerminalReporter>,
    json: Option<PathBuf>,
    junit: Option<PathBuf>,
    html: Option<PathBuf>,
    record: RunRecord,
    /// Whether the files hold the record as it is now.
    files_current: bool,
    /// The first error writing a file, for [`Reporter::finish`].
    file_error: Option<io::Error>,
}

/// Chooses a [`Reporter`]'s outputs.
#[derive(Default)]
pub struct ReporterBuilder {
    terminal: Option<TerminalReporter>,
    json: Option<PathBuf>,
    junit: Option<PathBuf>,
    html: Option<PathBuf>,
}

impl ReporterBuilder {
    /// Report on `out` (no spinners; colors as `color` says, `Auto`
    /// deciding by stdout).
    pub fn terminal(mut self, out: impl Write + Send + 'static, color: ColorChoice) -> Self {
        self.terminal = Some(TerminalReporter::new(out, color));
        self
    }

    /// Report on stdout, with a spinner per running scenario when stdout is
    /// a terminal.
    pub fn stdout(mut self, color: ColorChoice) -> Self {
        self.terminal = Some(TerminalReporter::stdout(color));
        self
    }

    /// Write the JSON report (`docs/json-report.md`) to `path`.
    pub fn json(mut self, path: impl Into<PathBuf>) -> Self {
        self.json = Some(path.into());
        self
    }

    /// Write a JUnit XML report to `path`.
    pub fn junit(mut self, path: impl Into<PathBuf>) -> Self {
        self.junit = Some(path.into());
        self
    }

    /// Write the self-contained HTML timeline report to `path`.
    pub fn html(mut self, path: impl Into<PathBuf>) -> Self {
        self.html = Some(path.into());
        self
    }

    pub fn build(self) -> Reporter {
        Reporter {
            inner: Mutex::new(Outputs {
                terminal: self.terminal,
                json: self.json,
                junit: self.junit,
                html: self.html,
                record: RunRecord::default(),
                files_current: false,
                file_error: None,
            }),
        }
    }
}

impl Reporter {
    pub fn builder() -> ReporterBuilder {
        ReporterBuilder::default()
    }

    /// Clear the live progress, flush the terminal and write the JSON and
    /// JUnit files if `RunFinished` did not already. The first error of any
    /// output, naming the file it was about.
    pub fn finish(&self) -> io::Result<()> {
        let mut outputs = self.lock();
        if !outputs.files_current {
            outputs.write_files();
        }
        let terminal = match outputs.terminal.as_mut() {
            Some(terminal) => terminal.finish(),
            None => Ok(()),
        };
        match outputs.file_error.take() {
            Some(e) => Err(e),
            None => terminal,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Outputs> {
        // A reporter that panicked mid-event still holds valid data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl EventSink for Reporter {
    fn send(&self, event: RunEvent) {
        let mut outputs = self.lock();
        if let Some(terminal) = outputs.terminal.as_mut() {
            terminal.handle(&event);
        }
        outputs.record.record(&event);
        outputs.files_current = false;
        if matches!(event.kind, RunEventKind::RunFinished { .. }) {
            outputs.write_files();
        }
    }
}

impl Outputs {
    fn write_files(&mut self) {
        if let Some(path) = &self.json {
            let mut text = to_json(&self.record);
            text.push('\n');
            if let Err(e) = write_file(path, &text) {
                self.file_error.get_or_insert(e);
            }
        }
        if let Some(path) = &self.junit {
            let result = to_junit(&self.record)
                .map_err(|e| io::Error::other(format!("JUnit report: {e}")))
                .and_then(|xml| write_file(path, &xml));
            if let Err(e) = result {
                self.file_error.get_or_insert(e);
            }
        }
        if let Some(path) = &self.html
            && let Err(e) = write_file(path, &to_html(&self.record))
        {
            self.file_error.get_or_insert(e);
        }
        self.files_current = true;
    }
}

fn write_file(path: &Path, text: &str) -> io::Result<()> {
    std::fs::write(path, text)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}
