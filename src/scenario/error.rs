//! Load errors: each names the file, the line and column, the field path and
//! the cause, with a hint when there is something useful to suggest.
//!
//! ```text
//! scenarios/x.yaml:14:9: spec.steps[1].expect.sequence[0].within: invalid duration "5 sex": unknown time unit "sex"
//!   hint: write a number and a unit, e.g. `5s`, `2m`, `1h30m`
//! ```

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
    #[error("cannot read file: {cause}")]
    Read { cause: std::io::Error },
    #[error("file is {size} bytes, over the {limit}-byte limit for a scenario file")]
    TooLarge { size: u64, limit: u64 },
    #[error("not a text file: {reason}")]
    NotText { reason: String },
    #[error("invalid YAML: {message}")]
    Syntax { message: String },
    #[error("YAML over kspy's limits: {message}")]
    Limit { message: String },
    #[error("unknown key `{key}`")]
    UnknownKey { key: String, expected: Vec<String> },
    #[error("missing required key `{key}`")]
    MissingKey { key: String },
    #[error("{message}")]
    Structure { message: String },
    #[error("apiVersion must be `kspy.dev/v1alpha1`, found `{found}`")]
    ApiVersion { found: String },
    #[error("kind must be `Scenario`, found `{found}`")]
    Kind { found: String },
    #[error("invalid scenario name {name:?}: {reason}")]
    Name { name: String, reason: String },
    #[error("duplicate scenario name `{name}`, first defined at {first}")]
    DuplicateName { name: String, first: String },
    #[error("invalid duration {value:?}: {reason}")]
    Duration { value: String, reason: String },
    #[error("a state needs at least one matcher")]
    EmptyState,
    #[error("invalid regex {pattern:?}: {reason}")]
    Regex { pattern: String, reason: String },
    #[error("invalid count comparison {value:?}")]
    Comparison { value: String },
    #[error("invalid JSONPath {path:?}: {reason}")]
    JsonPath { path: String, reason: String },
    #[error("a step needs exactly one of `apply`, `expect`, `delete`, `patch`, `sleep`; {found}")]
    StepKeys { found: String },
    #[error("invalid target {value:?}: {reason}")]
    Target { value: String, reason: String },
    #[error("no target given, and {reason}")]
    NoDefaultTarget { reason: String },
    #[error("cannot read manifest file {path}: {reason}")]
    ManifestRead { path: PathBuf, reason: String },
    #[error("invalid manifest {what}: {reason}")]
    Manifest { what: String, reason: String },
    /// Any other value the format does not allow.
    #[error("{message}")]
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
            out.push_str(&self.field);
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
            write!(f, "\n  hint: {hint}")?;
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

/// The known word closest to a misspelt one, if it is close enough to be a
/// likely typo (`withn` → `within`).
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    let candidates: Vec<&str> = candidates.into_iter().collect();
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
    }
}
