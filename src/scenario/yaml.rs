//! Reading YAML safely: one set of parser options and limits for scenario
//! and manifest files, and the translation of serde-saphyr's errors into
//! `LoadError`s that name the field.

use std::path::Path;

use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Budget, Error as YamlError, MessageFormatter, Options, UserMessageFormatter};

use super::error::{LoadError, LoadErrorKind, closest};
use super::model::Location;
use super::tree::Outline;

/// Scenario and manifest files larger than this are refused before parsing.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Deepest nesting accepted: far more than any scenario or manifest needs,
/// far less than would threaten the stack.
pub const MAX_DEPTH: usize = 32;

/// Parser options: strict booleans (`yes` is a string, not `true`), no
/// snippets (the loader prints its own one-line errors), and budgets that
/// stop alias bombs and pathological nesting early.
pub(crate) fn options() -> Options {
    let mut budget = Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_documents = 512;
    budget.max_nodes = 500_000;
    budget.max_total_scalar_bytes = usize::try_from(MAX_FILE_BYTES).unwrap_or(usize::MAX);
    let mut options = Options::default();
    options.budget = Some(budget);
    // An alias may be used, but not to multiply a small file into a huge one.
    options.alias_limits.max_total_replayed_events = 100_000;
    options.alias_limits.max_alias_expansions_per_anchor = 1_000;
    options.strict_booleans = true;
    options.with_snippet = false;
    options
}

/// Why the input is not text, if it is not: checked before the parser sees
/// it, so binary garbage gets a clear message rather than a confusing
/// syntax error.
pub(crate) fn text_problem(bytes: &[u8], file: &Path) -> Option<LoadError> {
    let at = |offset: usize, reason: &str| {
        let (line, column) = line_col(bytes, offset);
        LoadError {
            location: Location {
                file: file.to_path_buf(),
                line,
                column,
            },
            field: String::new(),
            kind: LoadErrorKind::NotText {
                reason: reason.to_string(),
            },
            hint: Some("scenario files are UTF-8 YAML text".to_string()),
        }
    };
    if let Err(e) = std::str::from_utf8(bytes) {
        return Some(at(e.valid_up_to(), "invalid UTF-8"));
    }
    bytes
        .iter()
        .position(|&b| b == 0)
        .map(|offset| at(offset, "contains NUL bytes"))
}

fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

/// Turn a serde-saphyr error into a `LoadError`. With an outline of the
/// file (the structure parsed), the field path is looked up by position;
/// without one, the error is about the YAML itself.
pub(crate) fn convert_error(
    error: &YamlError,
    file: &Path,
    source: &str,
    outline: Option<&Outline>,
) -> LoadError {
    let error = original(error);
    let (line, column) = error
        .location()
        .map(|l| {
            (
                usize::try_from(l.line()).unwrap_or(0),
                usize::try_from(l.column()).unwrap_or(0),
            )
        })
        .unwrap_or((0, 0));
    let path_in = |innermost| {
        outline
            .and_then(|o| o.path_at(line, column, innermost))
            .map(|e| e.path.clone())
            .unwrap_or_default()
    };
    let path_at = || path_in(true);
    let mut hint = None;
    let (field, kind) = match error {
        YamlError::SerdeUnknownField {
            field, expected, ..
        } => {
            hint = Some(match closest(field, expected.iter().copied()) {
                Some(best) => format!("did you mean `{best}`?"),
                None => format!("expected one of: {}", expected.join(", ")),
            });
            (
                path_at(),
                LoadErrorKind::UnknownKey {
                    key: field.clone(),
                    expected: expected.iter().map(|s| (*s).to_string()).collect(),
                },
            )
        }
        YamlError::SerdeMissingField { field, .. } => {
            let path = outline
                .and_then(|o| o.map_at(line, column))
                .map(|e| e.path.clone())
                .unwrap_or_default();
            (
                path,
                LoadErrorKind::MissingKey {
                    key: (*field).to_string(),
                },
            )
        }
        YamlError::SerdeUnknownVariant {
            variant, expected, ..
        } => {
            hint = closest(variant, expected.iter().copied())
                .map(|best| format!("did you mean `{best}`?"));
            (
                path_at(),
                LoadErrorKind::Structure {
                    message: format!(
                        "unknown value `{variant}`, expected one of: {}",
                        expected.join(", ")
                    ),
                },
            )
        }
        YamlError::SerdeInvalidType {
            unexpected,
            expected,
            ..
        } => (
            path_in(false),
            LoadErrorKind::Structure {
                message: format!("expected {expected}, found {unexpected}"),
            },
        ),
        YamlError::Unexpected { expected, .. } if outline.is_some() => {
            let expected = match *expected {
                "mapping start" => "a mapping",
                "sequence start" => "a list",
                "string scalar" => "a string",
                other => other,
            };
            (
                path_in(false),
                LoadErrorKind::Structure {
                    message: format!("expected {expected}"),
                },
            )
        }
        YamlError::DuplicateMappingKey { key, .. } => (
            path_at(),
            LoadErrorKind::Structure {
                message: match key {
                    Some(k) => format!("duplicate key `{k}`"),
                    None => "duplicate key".to_string(),
                },
            },
        ),
        YamlError::InvalidBooleanStrict { .. } => {
            hint = Some(
                "write `true` or `false`; `yes`, `no`, `on` and `off` are strings".to_string(),
            );
            (
                path_at(),
                LoadErrorKind::Structure {
                    message: "expected a boolean".to_string(),
                },
            )
        }
        YamlError::NullIntoString { .. } => {
            hint = Some("give it a value, or quote an empty string: \"\"".to_string());
            (
                path_at(),
                LoadErrorKind::Structure {
                    message: "expected a string, found nothing".to_string(),
                },
            )
        }
        // The parser's own guard against deep flow nesting says the same.
        YamlError::Budget {
            breach: BudgetBreach::Depth { .. },
            ..
        } => too_deep(&mut hint),
        _ if message(error).contains("recursion limit exceeded") => too_deep(&mut hint),
        YamlError::AliasReplayLimitExceeded { .. }
        | YamlError::AliasExpansionLimitExceeded { .. }
        | YamlError::AliasReplayStackDepthExceeded { .. }
        | YamlError::AliasReplayCounterOverflow { .. } => {
            hint = Some(
                "an alias bomb (\"billion laughs\")? use fewer aliases, or write the values out"
                    .to_string(),
            );
            (
                String::new(),
                LoadErrorKind::Limit {
                    message: "aliases expand to too many nodes".to_string(),
                },
            )
        }
        YamlError::Budget { .. } => {
            hint = Some(format!(
                "kspy refuses YAML that expands past its budgets (alias bombs, files over {} MiB)",
                MAX_FILE_BYTES / (1024 * 1024)
            ));
            (
                String::new(),
                LoadErrorKind::Limit {
                    message: message(error),
                },
            )
        }
        _ if outline.is_none() => {
            if source
                .lines()
                .nth(line.saturating_sub(1))
                .is_some_and(|l| l.contains('\t'))
            {
                hint = Some("YAML does not allow tabs for indentation; use spaces".to_string());
            }
            (
                String::new(),
                LoadErrorKind::Syntax {
                    message: message(error),
                },
            )
        }
        _ => (
            path_at(),
            LoadErrorKind::Structure {
                message: message(error),
            },
        ),
    };
    LoadError {
        location: Location {
            file: file.to_path_buf(),
            line,
            column,
        },
        field,
        kind,
        hint,
    }
}

/// Nesting over [`MAX_DEPTH`], however the parser noticed it.
fn too_deep(hint: &mut Option<String>) -> (String, LoadErrorKind) {
    *hint =
        Some("kspy reads scenarios and manifests, which never need that much nesting".to_string());
    (
        String::new(),
        LoadErrorKind::Limit {
            message: format!("nested deeper than {MAX_DEPTH} levels"),
        },
    )
}

/// The error itself, without snippet or alias wrappers.
fn original(error: &YamlError) -> &YamlError {
    let mut e = error.without_snippet();
    while let YamlError::AliasError { error, .. } = e {
        e = error.without_snippet();
    }
    e
}

/// The message without its location suffix, on one line.
fn message(error: &YamlError) -> String {
    let text = UserMessageFormatter.format_message(error);
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col(b"ab\ncd", 4), (2, 2));
        assert_eq!(line_col(b"abc", 0), (1, 1));
    }
}
