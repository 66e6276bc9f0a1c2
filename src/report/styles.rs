//! Colors for the terminal report. Like nextest's `Styles`, every style is
//! plain until [`Styles::colorize`], so the same rendering code produces the
//! plain text that JUnit, snapshots and pipes get.

use std::fmt::Display;
use std::io::IsTerminal;

use owo_colors::{OwoColorize, Style};

/// Whether the terminal report uses colors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// Colors when stdout is a terminal and `NO_COLOR` is unset: the
    /// terminal output is assumed to be stdout, where the binary writes it.
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether this choice means colors, deciding `Auto` by stdout.
    pub fn use_colors(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => stdout_wants_colors(),
        }
    }
}

/// `Always` when stdout is a terminal and `NO_COLOR` is unset (or empty, as
/// no-color.org says), else `Never`.
pub fn color_choice_for_stdout() -> ColorChoice {
    if stdout_wants_colors() {
        ColorChoice::Always
    } else {
        ColorChoice::Never
    }
}

fn stdout_wants_colors() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stdout().is_terminal()
}

/// The styles of every part of the report.
#[derive(Debug, Clone, Copy, Default)]
pub struct Styles {
    pub pass: Style,
    pub fail: Style,
    pub error: Style,
    pub warn: Style,
    pub dim: Style,
    pub bold: Style,
    /// A newly entered observed state.
    pub label: Style,
    pub removed: Style,
    pub added: Style,
}

impl Styles {
    /// No colors at all.
    pub fn plain() -> Styles {
        Styles::default()
    }

    /// Plain or colored, as `choice` says.
    pub fn for_choice(choice: ColorChoice) -> Styles {
        let mut styles = Styles::plain();
        if choice.use_colors() {
            styles.colorize();
        }
        styles
    }

    pub fn colorize(&mut self) {
        self.pass = Style::new().green().bold();
        self.fail = Style::new().red().bold();
        self.error = Style::new().magenta().bold();
        self.warn = Style::new().yellow();
        self.dim = Style::new().dimmed();
        self.bold = Style::new().bold();
        self.label = Style::new().cyan();
        self.removed = Style::new().red();
        self.added = Style::new().green();
    }
}

/// `text` in `style` (plain styles add nothing).
pub fn paint(style: Style, text: impl Display) -> String {
    text.style(style).to_string()
}
