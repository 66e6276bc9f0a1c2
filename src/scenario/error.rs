//! Load errors: each names the file, the line and column, the field path and
//! the cause, with a hint when there is something useful to suggest.
//!
//! ```text
//! scenarios/x.yaml:14:9: spec.steps[1].expect.sequence[0].within: invalid duration "5 sex": unknown time unit "sex"
//!   hint: write a number and a unit, e.g. `5s`, `2m`, `1h30m`
//! ```

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

use super::model::Location;

/// One problem in a scenario file.
#[derive(Debug)]
pub struct LoadError {
    /// Where; line and column are 0 when the problem is the whole file.
    pub location: Location,
    /// The field path, e.g. `spec.steps[1].expect.sequence[0].within`
    /// (empty when the problem is not about one field).
    pub field: String,
    pub kind: LoadErrorKind,
    /// What to do about it.
    pub hint: Option<String>,
}

/// What went wrong. Causes are carried as text so that a printed chain never
/// repeats itself.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LoadErrorKind {
    #[error("cannot read file: {}", excerpt(&.cause.to_string()))]
    Read { cause: std::io::Error },
    #[error("file is {size} bytes, over the {} MiB limit for scenario and manifest files", .limit >> 20)]
    TooLarge { size: u64, limit: u64 },
    #[error("not a text file: {}", excerpt(.reason))]
    NotText { reason: String },
    #[error("invalid YAML: {}", excerpt(.message))]
    Syntax { message: String },
    #[error("YAML over kspy's limits: {}", excerpt(.message))]
    Limit { message: String },
    #[error("unknown key `{}`", excerpt(.key))]
    UnknownKey { key: String, expected: Vec<String> },
    #[error("missing required key `{}`", excerpt(.key))]
    MissingKey { key: String },
    #[error("{}", excerpt(.message))]
    Structure { message: String },
    #[error("apiVersion must be `kspy.dev/v1alpha1`, found `{}`", excerpt(.found))]
    ApiVersion { found: String },
    #[error("kind must be `Scenario`, found `{}`", excerpt(.found))]
    Kind { found: String },
    #[error("invalid scenario name {:?}: {}", excerpt(.name), excerpt(.reason))]
    Name { name: String, reason: String },
    #[error("duplicate scenario name `{}`, first defined at {}", excerpt(.name), excerpt(.first))]
    DuplicateName { name: String, first: String },
    #[error("invalid duration {:?}: {}", excerpt(.value), excerpt(.reason))]
    Duration { value: String, reason: String },
    #[error("a state needs at least one matcher")]
    EmptyState,
    #[error("invalid regex {:?}: {}", excerpt(.pattern), excerpt(.reason))]
    Regex { pattern: String, reason: String },
    #[error("invalid count comparison {:?}", excerpt(.value))]
    Comparison { value: String },
    #[error("invalid JSONPath {:?}: {}", excerpt(.path), excerpt(.reason))]
    JsonPath { path: String, reason: String },
    #[error("a step needs exactly one of `apply`, `expect`, `delete`, `patch`, `sleep`; {}", excerpt(.found))]
    StepKeys { found: String },
    #[error("invalid target {:?}: {}", excerpt(.value), excerpt(.reason))]
    Target { value: String, reason: String },
    #[error("no target given, and {}", excerpt(.reason))]
    NoDefaultTarget { reason: String },
    #[error("cannot read manifest file {}: {}", excerpt(&.path.display().to_string()), excerpt(.reason))]
    ManifestRead { path: PathBuf, reason: String },
    #[error("invalid manifest {}: {}", excerpt(.what), excerpt(.reason))]
    Manifest { what: String, reason: String },
    /// Any other value the format does not allow.
    #[error("{}", excerpt(.message))]
    Invalid { message: String },
}

impl LoadError {
    /// The first line of the message, without the hint.
    pub fn headline(&self) -> String {
        let loc = &self.location;
        let mut out = loc.file.display().to_string();
        if loc.line > 0 {
            out.push_str(&format!(":{}:{}", loc.line, loc.column));
        }
        out.push_str(": ");
        if !self.field.is_empty() {
            out.push_str(&excerpt(&self.field));
            out.push_str(": ");
        }
        out.push_str(&self.kind.to_string());
        out
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.headline())?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {}", excerpt(hint))?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// Every problem found in one or more files, in file order.
#[derive(Debug, Default)]
pub struct LoadErrors(pub Vec<LoadError>);

impl LoadErrors {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn iter(&self) -> std::slice::Iter<'_, LoadError> {
        self.0.iter()
    }
}

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

impl IntoIterator for LoadErrors {
    type Item = LoadError;
    type IntoIter = std::vec::IntoIter<LoadError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// A value as an error quotes it: whole when short; when long (a 4 MiB
/// name, a key spanning a whole line) its start and end around an ellipsis,
/// so that every message fits on a screen.
pub(crate) fn excerpt(text: &str) -> Cow<'_, str> {
    const HEAD: usize = 160;
    const TAIL: usize = 40;
    let count = text.chars().count();
    if count <= HEAD + TAIL + 40 {
        return Cow::Borrowed(text);
    }
    let head: String = text.chars().take(HEAD).collect();
    let tail: String = text.chars().skip(count - TAIL).collect();
    Cow::Owned(format!(
        "{head}…[{} characters]…{tail}",
        count - HEAD - TAIL
    ))
}

/// The known word closest to a misspelt one, if it is close enough to be a
/// likely typo (`withn` → `within`).
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let candidates: Vec<&str> = candidates.into_iter().collect();
    // Far longer than any candidate: no typo of one, and an edit distance
    // against a huge word would cost time for nothing.
    let longest = candidates.iter().map(|c| c.len()).max().unwrap_or(0);
    if word.len() > 2 * longest + 8 {
        return None;
    }
    let lower = word.to_ascii_lowercase();
    let typo = candidates
        .iter()
        .map(|c| (levenshtein(&lower, &c.to_ascii_lowercase()), *c))
        .filter(|&(d, c)| d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c);
    // `podPhase` for `phase`, `containerName` for `container`: a known word
    // inside the unknown one.
    typo.or_else(|| {
        candidates
            .iter()
            .filter(|c| c.len() >= 4 && lower.contains(&c.to_ascii_lowercase()))
            .max_by_key(|c| c.len())
            .copied()
    })
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos() {
        let keys = ["state", "within", "holdFor", "count", "phase", "condition"];
        assert_eq!(closest("withn", keys), Some("within"));
        assert_eq!(closest("holdfor", keys), Some("holdFor"));
        assert_eq!(closest("phse", keys), Some("phase"));
        assert_eq!(closest("podPhase", keys), Some("phase"));
        assert_eq!(closest("banana", keys), None);
        assert_eq!(closest(&"phase".repeat(1000), keys), None);
    }

    #[test]
    fn long_values_are_quoted_by_their_ends() {
        assert_eq!(excerpt("short"), "short");
        let long = format!("{}{}", "a".repeat(1_000_000), "end");
        let quoted = excerpt(&long);
        assert!(quoted.starts_with(&"a".repeat(160)), "{quoted}");
        assert!(quoted.contains("…[999803 characters]…"), "{quoted}");
        assert!(quoted.ends_with("aaend"), "{quoted}");
        assert!(quoted.chars().count() < 300);
    }
}
