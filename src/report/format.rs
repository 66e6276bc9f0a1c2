//! Fixed-width times and durations, so columns line up from one line to the
//! next (nextest's `DisplayBracketedDuration`).

use std::fmt;
use std::time::Duration;

/// `[   4.123s]`: a duration in a fixed-width column.
pub struct BracketedDuration(pub Duration);

impl fmt::Display for BracketedDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:>9}]", Seconds(self.0).to_string())
    }
}

/// `4.123s`: whole milliseconds, no float rounding surprises.
pub struct Seconds(pub Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        f.pad(&format!("{}.{:03}s", ms / 1000, ms % 1000))
    }
}

/// `+0.031s`: a time relative to the scenario's first action.
pub struct Relative(pub Duration);

impl fmt::Display for Relative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&format!("+{}", Seconds(self.0)))
    }
}

/// `2s 320ms`: a span for sentences (deadlines, holds), to the millisecond.
pub fn human(d: Duration) -> String {
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    humantime::format_duration(Duration::from_millis(ms)).to_string()
}

/// The status word, right-aligned like nextest's `PASS`/`FAIL` column.
pub fn status_word(word: &str) -> String {
    format!("{word:>8}")
}

/// `text` cut to `max` characters, ending in `…` when cut; newlines flattened
/// so one item stays on one line.
pub fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        flat
    } else {
        let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_widths() {
        let ms = Duration::from_millis;
        assert_eq!(BracketedDuration(ms(4123)).to_string(), "[   4.123s]");
        assert_eq!(BracketedDuration(ms(12345)).to_string(), "[  12.345s]");
        assert_eq!(Relative(ms(31)).to_string(), "+0.031s");
        assert_eq!(format!("{:>9}", Relative(ms(31))), "  +0.031s");
        assert_eq!(human(ms(2320)), "2s 320ms");
        assert_eq!(status_word("PASS"), "    PASS");
        assert_eq!(one_line("a\nbcdef", 4), "a b…");
    }
}
