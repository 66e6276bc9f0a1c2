//! Raw YAML → validated `Scenario`s.
//!
//! Two passes over each file: an untyped outline (syntax, limits, and the
//! field paths that structural errors lack), then the raw structs, one
//! document at a time so that one bad document does not hide the errors of
//! the next. Value checks collect every problem they find rather than
//! stopping at the first.

use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use serde_json::Value;

use super::error::{LoadError, LoadErrorKind, LoadErrors, closest};
use super::model::{
    Cleanup, ExpectFailure, Location, Manifests, NamespaceMode, Patch, Scenario, Step, StepAction,
};
use super::raw::{
    Comparison, OneOrMany, RawApply, RawCleanup, RawContainer, RawDelete, RawExpect, RawField,
    RawPatch, RawScenario, RawState, RawStep, RawTarget, StringOr,
};
use super::span::Sp;
use super::tree::{Node, Outline};
use super::yaml::{self, MAX_FILE_BYTES};
use crate::expect::jsonpath::to_rfc9535;
use crate::expect::{
    ComparisonOp, ConditionMatcher, ContainerMatcher, CountComparison, EventMatcher, Expectation,
    FieldMatcher, FieldTest, KindRef, Matcher, SequenceStep, State, Target,
};

/// The only `apiVersion` this loader understands.
pub const API_VERSION: &str = "kspy.dev/v1alpha1";
/// The scenario timeout when `spec.timeout` is left out.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Errors listed for one file before the rest are only counted: a file
/// with a repeated mistake gets a readable report, not a flood.
pub const MAX_ERRORS_PER_FILE: usize = 100;

const DURATION_HINT: &str = "write a number and a unit, e.g. `5s`, `2m`, `1h30m`";

/// The outcome of loading one file.
#[derive(Debug)]
pub struct FileLoad {
    pub file: PathBuf,
    pub result: Result<Vec<Scenario>, LoadErrors>,
}

/// Load every scenario of one file. Manifest paths are resolved relative to
/// the file's directory.
pub fn load_file(path: &Path) -> Result<Vec<Scenario>, LoadErrors> {
    let whole_file = |kind| {
        LoadErrors(vec![LoadError {
            location: Location {
                file: path.to_path_buf(),
                line: 0,
                column: 0,
            },
            field: String::new(),
            kind,
            hint: None,
        }])
    };
    let bytes = read_limited(path).map_err(whole_file)?;
    load_bytes(&bytes, path)
}

/// Load scenarios from YAML text; `file` names it in errors and anchors
/// relative manifest paths.
pub fn load_str(source: &str, file: &Path) -> Result<Vec<Scenario>, LoadErrors> {
    load_bytes(source.as_bytes(), file)
}

/// Load several files, as for one run: scenario names must be unique across
/// all of them (a repeated name is an error in the file that repeats it).
pub fn load_files(paths: &[PathBuf]) -> Vec<FileLoad> {
    let mut seen: HashMap<String, Location> = HashMap::new();
    let mut loads = Vec::new();
    for path in paths {
        let mut result = load_file(path);
        if let Ok(scenarios) = &result {
            let mut errors = Vec::new();
            for s in scenarios {
                match seen.get(&s.name) {
                    Some(first) => errors.push(duplicate_name(&s.name, &s.location, first)),
                    None => {
                        seen.insert(s.name.clone(), s.location.clone());
                    }
                }
            }
            if !errors.is_empty() {
                result = Err(LoadErrors(errors));
            }
        }
        loads.push(FileLoad {
            file: path.clone(),
            result,
        });
    }
    loads
}

fn duplicate_name(name: &str, at: &Location, first: &Location) -> LoadError {
    LoadError {
        location: at.clone(),
        field: "metadata.name".to_string(),
        kind: LoadErrorKind::DuplicateName {
            name: name.to_string(),
            first: format!("{}:{}:{}", first.file.display(), first.line, first.column),
        },
        hint: Some("scenario names must be unique in a run; rename one".to_string()),
    }
}

/// Read at most `MAX_FILE_BYTES` (plus one, to tell "too large").
pub(crate) fn read_limited(path: &Path) -> Result<Vec<u8>, LoadErrorKind> {
    let file = std::fs::File::open(path).map_err(|cause| LoadErrorKind::Read { cause })?;
    if let Ok(meta) = file.metadata() {
        if meta.is_dir() {
            return Err(LoadErrorKind::Read {
                cause: std::io::Error::other("is a directory"),
            });
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(LoadErrorKind::TooLarge {
                size: meta.len(),
                limit: MAX_FILE_BYTES,
            });
        }
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|cause| LoadErrorKind::Read { cause })?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(LoadErrorKind::TooLarge {
            size: bytes.len() as u64,
            limit: MAX_FILE_BYTES,
        });
    }
    Ok(bytes)
}

/// Load scenarios from the bytes of a file (which may not be text: that is
/// an error too); `file` names it in errors and anchors relative manifest
/// paths. [`load_file`] reads the file and hands its bytes here.
pub fn load_bytes(bytes: &[u8], file: &Path) -> Result<Vec<Scenario>, LoadErrors> {
    let whole = |kind| LoadError {
        location: Location {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
        },
        field: String::new(),
        kind,
        hint: None,
    };
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(LoadErrors(vec![whole(LoadErrorKind::TooLarge {
            size: bytes.len() as u64,
            limit: MAX_FILE_BYTES,
        })]));
    }
    if let Some(e) = yaml::text_problem(bytes, file) {
        return Err(LoadErrors(vec![e]));
    }
    let source = String::from_utf8_lossy(bytes);

    // Pass 1: syntax and limits, and the outline for field paths.
    let documents: Vec<Sp<Node>> =
        serde_saphyr::from_multiple_with_options(&source, yaml::options())
            .map_err(|e| LoadErrors(vec![yaml::convert_error(&e, file, &source, None)]))?;
    if documents.is_empty() {
        let mut e = whole(LoadErrorKind::Invalid {
            message: "no scenario in this file".to_string(),
        });
        e.hint = Some(format!(
            "a scenario starts with `apiVersion: {API_VERSION}` and `kind: Scenario`"
        ));
        return Err(LoadErrors(vec![e]));
    }
    let outline = Outline::new(&documents);

    // Pass 2: the raw structs, document by document.
    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut loader = Loader {
        file,
        base,
        errors: Vec::new(),
    };
    let mut scenarios = Vec::new();
    // First only `apiVersion` and `kind`: a document that is not a scenario
    // (a manifest in the wrong place) is better told so than told about its
    // first unknown key.
    let mut cursor = Cursor::new(source.as_bytes());
    let headers: Vec<Option<Header>> =
        serde_saphyr::read_with_options::<_, Header>(&mut cursor, yaml::options())
            .map(Result::ok)
            .collect();
    let mut cursor = Cursor::new(source.as_bytes());
    let items = serde_saphyr::read_with_options::<_, Sp<RawScenario>>(&mut cursor, yaml::options());
    for (index, item) in items.enumerate() {
        if let Some(Some(header)) = headers.get(index)
            && !loader.header(header)
        {
            continue;
        }
        match item {
            Ok(raw) => {
                if let Some(s) = loader.scenario(&raw) {
                    scenarios.push(s);
                }
            }
            Err(e) => loader
                .errors
                .push(yaml::convert_error(&e, file, &source, Some(&outline))),
        }
    }

    let mut seen: HashMap<&str, &Location> = HashMap::new();
    for s in &scenarios {
        match seen.get(s.name.as_str()) {
            Some(first) => loader
                .errors
                .push(duplicate_name(&s.name, &s.location, first)),
            None => {
                seen.insert(&s.name, &s.location);
            }
        }
    }
    if loader.errors.is_empty() {
        Ok(scenarios)
    } else {
        let mut errors = loader.errors;
        errors.sort_by_key(|e| (e.location.line, e.location.column));
        Err(LoadErrors(at_most(MAX_ERRORS_PER_FILE, errors)))
    }
}

/// The first `max` errors, and in place of the rest one error saying how
/// many more there are, where the first of them is.
fn at_most(max: usize, mut errors: Vec<LoadError>) -> Vec<LoadError> {
    if errors.len() <= max {
        return errors;
    }
    let more = errors.len() - max;
    let first_omitted = errors.swap_remove(max);
    errors.truncate(max);
    errors.push(LoadError {
        location: first_omitted.location,
        field: String::new(),
        kind: LoadErrorKind::Invalid {
            message: format!("{more} more errors in this file"),
        },
        hint: Some("fix these first; the rest may be the same mistake".to_string()),
    });
    errors
}

/// The two keys that say what a document is; everything else is ignored.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    #[serde(default)]
    api_version: Option<Sp<String>>,
    #[serde(default)]
    kind: Option<Sp<String>>,
}

/// What the previous `apply` step created, for `expect`s without a target.
struct LastApply {
    step: usize,
    objects: Vec<String>,
}

struct Loader<'a> {
    file: &'a Path,
    base: PathBuf,
    errors: Vec<LoadError>,
}

impl Loader<'_> {
    fn location<T>(&self, at: &Sp<T>) -> Location {
        Location {
            file: self.file.to_path_buf(),
            line: at.line,
            column: at.column,
        }
    }

    fn error<T>(
        &mut self,
        at: &Sp<T>,
        field: impl Into<String>,
        kind: LoadErrorKind,
    ) -> &mut LoadError {
        let location = self.location(at);
        self.errors.push(LoadError {
            location,
            field: field.into(),
            kind,
            hint: None,
        });
        let last = self.errors.len() - 1;
        &mut self.errors[last]
    }

    fn invalid<T>(
        &mut self,
        at: &Sp<T>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> &mut LoadError {
        self.error(
            at,
            field,
            LoadErrorKind::Invalid {
                message: message.into(),
            },
        )
    }

    fn scenario(&mut self, raw: &Sp<RawScenario>) -> Option<Scenario> {
        let before = self.errors.len();
        let doc = &raw.value;
        let meta = &doc.metadata.value;
        self.name(&meta.name);
        let spec = &doc.spec.value;
        let timeout = match &spec.timeout {
            Some(t) => self.duration(t, "spec.timeout"),
            None => Some(DEFAULT_TIMEOUT),
        };
        let namespace = match &spec.namespace {
            None => NamespaceMode::Generated,
            Some(ns) if ns.value == "generated" => NamespaceMode::Generated,
            Some(ns) => {
                if let Err(reason) = dns_label(&ns.value) {
                    let e = self.invalid(
                        ns,
                        "spec.namespace",
                        format!("invalid namespace {:?}: {reason}", ns.value),
                    );
                    e.hint = Some(
                        "use `generated` for a fresh namespace per run, or a DNS label".to_string(),
                    );
                }
                NamespaceMode::Fixed(ns.value.clone())
            }
        };
        let cleanup = match spec.cleanup.as_ref().map(|c| c.value) {
            None | Some(RawCleanup::Always) => Cleanup::Always,
            Some(RawCleanup::OnSuccess) => Cleanup::OnSuccess,
            Some(RawCleanup::Never) => Cleanup::Never,
        };
        let steps = self.steps(&spec.steps);
        let expect_failure = spec.expect_failure.as_ref().and_then(|ef| {
            let reason = self.regex(&ef.value.reason, "spec.expectFailure.reason");
            let within = match &ef.value.within {
                Some(w) => Some(self.duration(w, "spec.expectFailure.within")?),
                None => None,
            };
            Some(ExpectFailure {
                reason: reason?,
                within,
            })
        });
        if self.errors.len() > before {
            return None;
        }
        Some(Scenario {
            name: meta.name.value.clone(),
            description: meta.description.clone(),
            location: self.location(raw),
            timeout: timeout?,
            namespace,
            cleanup,
            steps,
            expect_failure,
        })
    }

    /// Check `apiVersion` and `kind`; false when the document is not a
    /// scenario this loader reads.
    fn header(&mut self, header: &Header) -> bool {
        let before = self.errors.len();
        if let Some(v) = &header.api_version
            && v.value != API_VERSION
        {
            let found = v.value.clone();
            self.error(v, "apiVersion", LoadErrorKind::ApiVersion { found })
                .hint = Some(format!("this kspy reads `apiVersion: {API_VERSION}`"));
        }
        if let Some(k) = &header.kind
            && k.value != "Scenario"
        {
            let found = k.value.clone();
            let e = self.error(k, "kind", LoadErrorKind::Kind { found });
            e.hint = Some(
                "manifests belong in `apply` steps or under a `manifests/` directory".to_string(),
            );
        }
        self.errors.len() == before
    }

    fn name(&mut self, name: &Sp<String>) {
        let n = &name.value;
        let reason = if n.is_empty() {
            Some("it is empty".to_string())
        } else if n.len() > 63 {
            Some(format!("it is {} characters long, over 63", n.len()))
        } else if let Some(c) = n
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            Some(format!("`{c}` is not allowed"))
        } else if n.starts_with('-') || n.ends_with('-') {
            Some("it must start and end with a letter or digit".to_string())
        } else {
            None
        };
        if let Some(reason) = reason {
            let suggestion: String = n
                .to_ascii_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect::<String>()
                .trim_matches('-')
                .to_string();
            let e = self.error(
                name,
                "metadata.name",
                LoadErrorKind::Name {
                    name: n.clone(),
                    reason,
                },
            );
            e.hint = Some(if suggestion.is_empty() {
                "use lowercase letters, digits and `-`".to_string()
            } else {
                format!("use lowercase letters, digits and `-`, e.g. `{suggestion}`")
            });
        }
    }

    fn duration(&mut self, value: &Sp<String>, field: &str) -> Option<Duration> {
        match humantime::parse_duration(value.value.trim()) {
            Ok(d) if d.is_zero() => {
                let kind = LoadErrorKind::Duration {
                    value: value.value.clone(),
                    reason: "must be more than zero".into(),
                };
                self.error(value, field, kind);
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                let kind = LoadErrorKind::Duration {
                    value: value.value.clone(),
                    reason: e.to_string(),
                };
                self.error(value, field, kind).hint = Some(DURATION_HINT.to_string());
                None
            }
        }
    }

    fn regex(&mut self, pattern: &Sp<String>, field: &str) -> Option<Regex> {
        match Regex::new(&pattern.value) {
            Ok(r) => Some(r),
            Err(e) => {
                // The regex crate draws the pattern over several lines; its last line
                // says what is wrong.
                let text = e.to_string();
                let last = text.lines().last().unwrap_or_default().trim();
                let reason = last.strip_prefix("error: ").unwrap_or(last).to_string();
                let kind = LoadErrorKind::Regex {
                    pattern: pattern.value.clone(),
                    reason,
                };
                self.error(pattern, field, kind).hint =
                    Some("the syntax is Rust's `regex` crate; escape `(`, `[`, `.` with `\\` to match them literally".to_string());
                None
            }
        }
    }

    fn steps(&mut self, steps: &Sp<Vec<Sp<RawStep>>>) -> Vec<Step> {
        if steps.value.is_empty() {
            self.invalid(steps, "spec.steps", "a scenario needs at least one step")
                .hint =
                Some("start with `- apply: manifests/app.yaml` or `- expect: ...`".to_string());
        }
        let mut last_apply: Option<LastApply> = None;
        let mut out = Vec::new();
        for (i, step) in steps.value.iter().enumerate() {
            let field = format!("spec.steps[{i}]");
            let keys = step.value.keys();
            if keys.len() != 1 {
                let found = if keys.is_empty() {
                    "found none".to_string()
                } else {
                    format!(
                        "found {}",
                        keys.iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(" and ")
                    )
                };
                let e = self.error(step, field, LoadErrorKind::StepKeys { found });
                e.hint = Some(if keys.is_empty() {
                    "a key with no value counts as absent; give it one".to_string()
                } else {
                    "split them into separate steps, each starting with `-`".to_string()
                });
                continue;
            }
            let s = &step.value;
            let action = if let Some(apply) = &s.apply {
                self.apply(apply, &format!("{field}.apply")).map(|m| {
                    last_apply = Some(LastApply {
                        step: i,
                        objects: m.objects.iter().map(describe_object).collect(),
                    });
                    StepAction::Apply(m)
                })
            } else if let Some(expect) = &s.expect {
                self.expects(expect, &format!("{field}.expect"), last_apply.as_ref())
                    .map(StepAction::Expect)
            } else if let Some(delete) = &s.delete {
                self.delete(delete, &format!("{field}.delete"))
            } else if let Some(patch) = &s.patch {
                self.patch(patch, &format!("{field}.patch"))
            } else if let Some(sleep) = &s.sleep {
                self.duration(sleep, &format!("{field}.sleep"))
                    .map(StepAction::Sleep)
            } else {
                None
            };
            if let Some(action) = action {
                out.push(Step {
                    location: self.location(step),
                    action,
                });
            }
        }
        out
    }

    // ---- apply -------------------------------------------------------------

    fn apply(&mut self, apply: &Sp<RawApply>, field: &str) -> Option<Manifests> {
        match &apply.value {
            StringOr::Short(path) => {
                let at = Sp {
                    value: path.clone(),
                    line: apply.line,
                    column: apply.column,
                };
                self.manifest_file(&at, field)
            }
            StringOr::Long(obj) => match (&obj.file, &obj.manifest) {
                (Some(file), None) => self.manifest_file(file, &format!("{field}.file")),
                (None, Some(inline)) => {
                    let field = format!("{field}.manifest");
                    let objects = match &inline.value {
                        Value::Array(items) => items.clone(),
                        other => vec![other.clone()],
                    };
                    self.manifest_objects(inline, &field, "inline manifest", objects, None)
                }
                (Some(_), Some(_)) => {
                    self.invalid(apply, field, "give either `file` or `manifest`, not both");
                    None
                }
                (None, None) => {
                    self.invalid(
                        apply,
                        field,
                        "`apply` needs a path, `file: PATH` or `manifest: ...`",
                    )
                    .hint = Some("e.g. `apply: manifests/app.yaml`".to_string());
                    None
                }
            },
        }
    }

    fn manifest_file(&mut self, path: &Sp<String>, field: &str) -> Option<Manifests> {
        if path.value.trim().is_empty() {
            self.invalid(path, field, "the manifest path is empty");
            return None;
        }
        let resolved = self.base.join(&path.value);
        let bytes = match read_limited(&resolved) {
            Ok(b) => b,
            Err(kind) => {
                let reason = match kind {
                    LoadErrorKind::Read { cause }
                        if cause.kind() == std::io::ErrorKind::NotFound =>
                    {
                        "no such file".to_string()
                    }
                    other => other.to_string(),
                };
                let kind = LoadErrorKind::ManifestRead {
                    path: resolved.clone(),
                    reason,
                };
                self.error(path, field, kind).hint = Some(
                    "manifest paths are relative to the scenario file's directory".to_string(),
                );
                return None;
            }
        };
        let what = resolved.display().to_string();
        if let Some(e) = yaml::text_problem(&bytes, &resolved) {
            self.error(
                path,
                field,
                LoadErrorKind::Manifest {
                    what,
                    reason: e.kind.to_string(),
                },
            );
            return None;
        }
        let text = String::from_utf8_lossy(&bytes);
        let objects: Vec<Value> =
            match serde_saphyr::from_multiple_with_options(&text, yaml::options()) {
                Ok(docs) => docs,
                Err(e) => {
                    let inner = yaml::convert_error(&e, &resolved, &text, None);
                    let what = match inner.location.line {
                        0 => what,
                        line => format!("{what}:{line}:{}", inner.location.column),
                    };
                    let kind = LoadErrorKind::Manifest {
                        what,
                        reason: inner.kind.to_string(),
                    };
                    self.error(path, field, kind).hint = inner.hint;
                    return None;
                }
            };
        let objects: Vec<Value> = objects.into_iter().filter(|v| !v.is_null()).collect();
        self.manifest_objects(path, field, &what, objects, Some(resolved))
    }

    fn manifest_objects<T>(
        &mut self,
        at: &Sp<T>,
        field: &str,
        what: &str,
        objects: Vec<Value>,
        file: Option<PathBuf>,
    ) -> Option<Manifests> {
        if objects.is_empty() {
            self.error(
                at,
                field,
                LoadErrorKind::Manifest {
                    what: what.to_string(),
                    reason: "it holds no objects".into(),
                },
            );
            return None;
        }
        let mut ok = true;
        for (i, obj) in objects.iter().enumerate() {
            if let Err(reason) = check_object(obj) {
                let reason = if objects.len() > 1 {
                    format!("object {}: {reason}", i + 1)
                } else {
                    reason
                };
                self.error(
                    at,
                    field,
                    LoadErrorKind::Manifest {
                        what: what.to_string(),
                        reason,
                    },
                )
                .hint =
                    Some("every object needs `apiVersion`, `kind` and `metadata.name`".to_string());
                ok = false;
            }
        }
        ok.then_some(Manifests { file, objects })
    }

    // ---- expect ------------------------------------------------------------

    fn expects(
        &mut self,
        expect: &Sp<OneOrMany<RawExpect>>,
        field: &str,
        last_apply: Option<&LastApply>,
    ) -> Option<Vec<Expectation>> {
        let before = self.errors.len();
        let mut out = Vec::new();
        match &expect.value {
            OneOrMany::One(e) => out.extend(self.expect(e, expect, field, last_apply)),
            OneOrMany::Many(list) => {
                if list.is_empty() {
                    self.invalid(expect, field, "an empty list of expectations");
                }
                for (j, e) in list.iter().enumerate() {
                    out.extend(self.expect(&e.value, e, &format!("{field}[{j}]"), last_apply));
                }
            }
        }
        (self.errors.len() == before).then_some(out)
    }

    fn expect<T>(
        &mut self,
        raw: &RawExpect,
        at: &Sp<T>,
        field: &str,
        last_apply: Option<&LastApply>,
    ) -> Option<Expectation> {
        let target = match &raw.target {
            Some(t) => self.target(t, &format!("{field}.target")),
            None => match last_apply {
                Some(last) if last.objects.len() == 1 => Some(Target::PreviousApply),
                Some(last) => {
                    let reason = format!(
                        "the previous apply (spec.steps[{}]) created {} objects: {}",
                        last.step,
                        last.objects.len(),
                        last.objects.join(", ")
                    );
                    let e = self.error(at, field, LoadErrorKind::NoDefaultTarget { reason });
                    e.hint = Some(format!(
                        "name one, e.g. `target: {}`",
                        last.objects.first().map_or("Pod/name", String::as_str)
                    ));
                    None
                }
                None => {
                    let reason = "no earlier step applies anything".to_string();
                    self.error(at, field, LoadErrorKind::NoDefaultTarget { reason })
                        .hint =
                        Some("name the object to watch, e.g. `target: Pod/nginx`".to_string());
                    None
                }
            },
        };
        let selector = matches!(target, Some(Target::Selector { .. }));
        let seq_field = format!("{field}.sequence");
        if raw.sequence.value.is_empty() {
            self.invalid(
                &raw.sequence,
                &seq_field,
                "a sequence needs at least one state",
            );
        }
        let mut sequence = Vec::new();
        for (k, state) in raw.sequence.value.iter().enumerate() {
            sequence.extend(self.sequence_step(state, &format!("{seq_field}[{k}]"), selector));
        }
        let mut never = Vec::new();
        if let Some(list) = &raw.never {
            for (k, state) in list.value.iter().enumerate() {
                let f = format!("{field}.never[{k}]");
                let v = &state.value;
                for (key, at) in [
                    ("within", v.within.as_ref().map(Sp::pos)),
                    ("holdFor", v.hold_for.as_ref().map(Sp::pos)),
                    ("count", v.count.as_ref().map(Sp::pos)),
                ] {
                    if let Some((line, column)) = at {
                        let at = Sp {
                            value: (),
                            line,
                            column,
                        };
                        self.invalid(
                            &at,
                            format!("{f}.{key}"),
                            format!("`{key}` has no meaning in `never`"),
                        )
                        .hint = Some(
                            "a `never` state forbids a state for the whole expect".to_string(),
                        );
                    }
                }
                never.extend(self.state(state, &f));
            }
        }
        Some(Expectation {
            target: target?,
            sequence,
            never,
            fail_fast: raw.fail_fast.unwrap_or(true),
        })
    }

    fn sequence_step(
        &mut self,
        raw: &Sp<RawState>,
        field: &str,
        selector: bool,
    ) -> Option<SequenceStep> {
        let s = &raw.value;
        let within = s
            .within
            .as_ref()
            .map(|w| self.duration(w, &format!("{field}.within")));
        let hold_for = s
            .hold_for
            .as_ref()
            .map(|h| self.duration(h, &format!("{field}.holdFor")));
        if let Some(count) = &s.count {
            if !selector {
                self.invalid(
                    count,
                    format!("{field}.count"),
                    "`count` applies only to a `selector` target",
                )
                .hint =
                    Some("target a set with `target: {kind: Pod, selector: app=web}`".to_string());
            } else if count.value == 0 {
                self.invalid(
                    count,
                    format!("{field}.count"),
                    "`count` must be at least 1",
                );
            }
        }
        let state = self.state(raw, field)?;
        Some(SequenceStep {
            state,
            within: within.flatten(),
            hold_for: hold_for.flatten(),
            count: s.count.as_ref().map(|c| c.value),
        })
    }

    fn state(&mut self, raw: &Sp<RawState>, field: &str) -> Option<State> {
        let before = self.errors.len();
        let s = &raw.value;
        let mut matchers = Vec::new();
        if let Some(phase) = &s.phase {
            if phase.value.trim().is_empty() {
                self.invalid(phase, format!("{field}.phase"), "`phase` is empty");
            }
            matchers.push(Matcher::Phase(phase.value.clone()));
        }
        if let Some(c) = &s.condition {
            let f = format!("{field}.condition");
            let c = &c.value;
            if c.type_.value.trim().is_empty() {
                self.invalid(
                    &c.type_,
                    format!("{f}.type"),
                    "the condition `type` is empty",
                );
            }
            let status = match &c.status {
                None => "True".to_string(),
                Some(st) => {
                    let fixed = match st.value.to_ascii_lowercase().as_str() {
                        "true" => "True",
                        "false" => "False",
                        "unknown" => "Unknown",
                        _ => "",
                    };
                    if fixed != st.value {
                        let e = self.invalid(
                            st,
                            format!("{f}.status"),
                            format!("condition status must be \"True\", \"False\" or \"Unknown\", found {:?}", st.value),
                        );
                        e.hint = Some(if fixed.is_empty() {
                            "condition statuses are the strings \"True\", \"False\" and \"Unknown\""
                                .to_string()
                        } else {
                            format!("write `status: \"{fixed}\"` (quoted, capitalised)")
                        });
                    }
                    st.value.clone()
                }
            };
            let message = c
                .message
                .as_ref()
                .and_then(|m| self.regex(m, &format!("{f}.message")));
            matchers.push(Matcher::Condition(ConditionMatcher {
                type_: c.type_.value.clone(),
                status,
                reason: c.reason.as_ref().map(|r| r.value.clone()),
                message,
            }));
        }
        if let Some(c) = &s.container {
            matchers.extend(self.container(&c.value, false, &format!("{field}.container")));
        }
        if let Some(c) = &s.init_container {
            matchers.extend(self.container(&c.value, true, &format!("{field}.initContainer")));
        }
        if let Some(f) = &s.field {
            matchers.extend(self.field(f, &format!("{field}.field")));
        }
        if let Some(fs) = &s.fields {
            if fs.value.is_empty() {
                self.invalid(fs, format!("{field}.fields"), "`fields` is an empty list");
            }
            for (k, f) in fs.value.iter().enumerate() {
                matchers.extend(self.field(f, &format!("{field}.fields[{k}]")));
            }
        }
        if let Some(subset) = &s.subset {
            if !subset.value.is_object() {
                self.invalid(
                    subset,
                    format!("{field}.subset"),
                    "`subset` must be a mapping (a partial object)",
                )
                .hint = Some("e.g. `subset: {status: {phase: Running}}`".to_string());
            }
            matchers.push(Matcher::Subset(subset.value.clone()));
        }
        if let Some(ev) = &s.event {
            let f = format!("{field}.event");
            let ev = &ev.value;
            if let Some(t) = &ev.type_
                && t.value != "Normal"
                && t.value != "Warning"
            {
                self.invalid(
                    t,
                    format!("{f}.type"),
                    format!(
                        "event type must be `Normal` or `Warning`, found {:?}",
                        t.value
                    ),
                );
            }
            let message = ev
                .message
                .as_ref()
                .and_then(|m| self.regex(m, &format!("{f}.message")));
            matchers.push(Matcher::Event(EventMatcher {
                reason: ev.reason.as_ref().map(|r| r.value.clone()),
                type_: ev.type_.as_ref().map(|t| t.value.clone()),
                message,
            }));
        }
        if let Some(d) = &s.deleted {
            matchers.push(Matcher::Deleted(d.value));
        }
        if matchers.is_empty() && self.errors.len() == before {
            let e = self.error(raw, field, LoadErrorKind::EmptyState);
            e.hint = Some(
                "add a matcher: phase, condition, container, initContainer, field, fields, subset, event or deleted \
                 (`state:` is only a label)"
                    .to_string(),
            );
        }
        let label = s.state.as_ref().map(|l| l.value.clone());
        (self.errors.len() == before).then_some(State { label, matchers })
    }

    fn container(&mut self, c: &RawContainer, init: bool, field: &str) -> Option<Matcher> {
        let restarts = match &c.restarts {
            Some(r) => Some(self.comparison(r, &format!("{field}.restarts"))?),
            None => None,
        };
        let text = |v: &Option<Sp<String>>| v.as_ref().map(|s| s.value.clone());
        Some(Matcher::Container(ContainerMatcher {
            init,
            name: text(&c.name),
            waiting: text(&c.waiting),
            running: c.running,
            terminated: text(&c.terminated),
            last_terminated: text(&c.last_terminated),
            exit_code: c.exit_code.as_ref().map(|e| e.value),
            ready: c.ready,
            restarts,
        }))
    }

    fn comparison(&mut self, raw: &Sp<Comparison>, field: &str) -> Option<CountComparison> {
        match parse_comparison(&raw.value.0) {
            Some(c) => Some(c),
            None => {
                let kind = LoadErrorKind::Comparison {
                    value: raw.value.0.clone(),
                };
                self.error(raw, field, kind).hint =
                    Some("write a count (`3`) or a quoted comparison: \">=3\", \">2\", \"<2\", \"<=1\", \"!=0\"".to_string());
                None
            }
        }
    }

    fn field(&mut self, raw: &Sp<RawField>, field: &str) -> Option<Matcher> {
        let f = &raw.value;
        let query = match to_rfc9535(&f.path.value) {
            Ok(q) => Some(q),
            Err(e) => {
                let kind = LoadErrorKind::JsonPath {
                    path: f.path.value.clone(),
                    reason: e.to_string(),
                };
                self.error(&f.path, format!("{field}.path"), kind).hint = Some(
                    "write kubectl JSONPath such as `{.status.podIP}` or `{.status.conditions[?(@.type==\"Ready\")].status}`"
                        .to_string(),
                );
                None
            }
        };
        let given = [f.equals.is_some(), f.matches.is_some(), f.exists.is_some()];
        let test = match given.iter().filter(|g| **g).count() {
            1 => {
                if let Some(v) = &f.equals {
                    Some(FieldTest::Equals(v.value.clone()))
                } else if let Some(m) = &f.matches {
                    self.regex(m, &format!("{field}.matches"))
                        .map(FieldTest::Matches)
                } else {
                    f.exists.map(FieldTest::Exists)
                }
            }
            n => {
                let message = if n == 0 {
                    "a field matcher needs one of `equals`, `matches` or `exists`"
                } else {
                    "give only one of `equals`, `matches` or `exists`"
                };
                self.invalid(raw, field, message);
                None
            }
        };
        Some(Matcher::Field(FieldMatcher {
            path: f.path.value.clone(),
            query: query?,
            test: test?,
        }))
    }

    // ---- targets, delete, patch ---------------------------------------------

    fn target(&mut self, raw: &Sp<RawTarget>, field: &str) -> Option<Target> {
        match &raw.value {
            StringOr::Short(s) => match parse_short_target(s) {
                Ok((kind, name)) => Some(Target::Named {
                    kind: KindRef {
                        api_version: None,
                        kind,
                    },
                    name,
                    namespace: None,
                }),
                Err(reason) => {
                    let kind = LoadErrorKind::Target {
                        value: s.clone(),
                        reason,
                    };
                    self.error(raw, field, kind).hint = Some(
                        "write `KIND/NAME` (e.g. `Pod/nginx`, `deployment.apps/web`) or \
                         `{kind: Pod, selector: app=web}`"
                            .to_string(),
                    );
                    None
                }
            },
            StringOr::Long(t) => {
                let before = self.errors.len();
                if let Err(reason) = check_kind(&t.kind.value) {
                    self.error(
                        &t.kind,
                        format!("{field}.kind"),
                        LoadErrorKind::Target {
                            value: t.kind.value.clone(),
                            reason,
                        },
                    );
                }
                if let Some(ns) = &t.namespace
                    && let Err(reason) = dns_label(&ns.value)
                {
                    self.invalid(
                        ns,
                        format!("{field}.namespace"),
                        format!("invalid namespace {:?}: {reason}", ns.value),
                    );
                }
                let kind = KindRef {
                    api_version: t.api_version.as_ref().map(|a| a.value.clone()),
                    kind: t.kind.value.clone(),
                };
                let namespace = t.namespace.as_ref().map(|n| n.value.clone());
                let target = match (&t.name, &t.selector) {
                    (Some(name), None) => {
                        if let Err(reason) = check_name(&name.value) {
                            self.error(
                                name,
                                format!("{field}.name"),
                                LoadErrorKind::Target {
                                    value: name.value.clone(),
                                    reason,
                                },
                            );
                        }
                        Target::Named {
                            kind,
                            name: name.value.clone(),
                            namespace,
                        }
                    }
                    (None, Some(sel)) => {
                        if sel.value.trim().is_empty() {
                            self.invalid(
                                sel,
                                format!("{field}.selector"),
                                "the label selector is empty",
                            );
                        }
                        Target::Selector {
                            kind,
                            selector: sel.value.clone(),
                            namespace,
                        }
                    }
                    (Some(_), Some(_)) => {
                        self.invalid(raw, field, "give either `name` or `selector`, not both");
                        return None;
                    }
                    (None, None) => {
                        self.invalid(raw, field, "a target needs `name` or `selector`");
                        return None;
                    }
                };
                (self.errors.len() == before).then_some(target)
            }
        }
    }

    fn delete(&mut self, raw: &Sp<RawDelete>, field: &str) -> Option<StepAction> {
        match &raw.value {
            StringOr::Short(s) => {
                let at = Sp {
                    value: StringOr::Short(s.clone()),
                    line: raw.line,
                    column: raw.column,
                };
                let target = self.target(&at, field)?;
                Some(StepAction::Delete { target, wait: true })
            }
            StringOr::Long(d) => {
                let target = self.target(&d.target, &format!("{field}.target"))?;
                Some(StepAction::Delete {
                    target,
                    wait: d.wait.unwrap_or(true),
                })
            }
        }
    }

    fn patch(&mut self, raw: &Sp<RawPatch>, field: &str) -> Option<StepAction> {
        let p = &raw.value;
        let target = self.target(&p.target, &format!("{field}.target"));
        let patch = match (&p.merge, &p.json) {
            (Some(m), None) => {
                if m.value.is_object() {
                    Some(Patch::Merge(m.value.clone()))
                } else {
                    self.invalid(
                        m,
                        format!("{field}.merge"),
                        "a merge patch must be a mapping",
                    );
                    None
                }
            }
            (None, Some(j)) => match check_json_patch(&j.value) {
                Ok(()) => Some(Patch::Json(j.value.clone())),
                Err(message) => {
                    self.invalid(j, format!("{field}.json"), message).hint = Some(
                        "a JSON patch is a list like `[{op: remove, path: /metadata/labels/app}]`"
                            .to_string(),
                    );
                    None
                }
            },
            (Some(_), Some(_)) => {
                self.invalid(raw, field, "give either `merge` or `json`, not both");
                None
            }
            (None, None) => {
                self.invalid(raw, field, "a patch needs `merge: {...}` or `json: [...]`");
                None
            }
        };
        Some(StepAction::Patch {
            target: target?,
            patch: patch?,
        })
    }
}

/// `KIND/NAME` → (kind, name).
fn parse_short_target(s: &str) -> Result<(String, String), String> {
    let s = s.trim();
    let Some((kind, name)) = s.split_once('/') else {
        return Err("expected KIND/NAME".to_string());
    };
    if name.contains('/') {
        return Err("too many `/`; for an API group write `deployment.apps/web`, or use the long form with `apiVersion`".to_string());
    }
    check_kind(kind)?;
    check_name(name)?;
    Ok((kind.to_string(), name.to_string()))
}

fn check_kind(kind: &str) -> Result<(), String> {
    if kind.is_empty() {
        return Err("the kind is empty".to_string());
    }
    match kind
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '.' || *c == '-'))
    {
        Some(c) => Err(format!("`{c}` is not allowed in a kind")),
        None => Ok(()),
    }
}

/// Object names: DNS subdomains (lowercase alphanumerics, `-` and `.`).
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".to_string());
    }
    if name.len() > 253 {
        return Err("the name is longer than 253 characters".to_string());
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '.'))
    {
        Some(c) => Err(format!("`{c}` is not allowed in an object name")),
        None => Ok(()),
    }
}

/// Namespaces: DNS labels.
fn dns_label(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 63 {
        return Err("must be 1 to 63 characters".to_string());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!("`{c}` is not allowed"));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("must start and end with a letter or digit".to_string());
    }
    Ok(())
}

/// A manifest object must at least say what it is and what it is called.
fn check_object(obj: &Value) -> Result<(), String> {
    let Some(map) = obj.as_object() else {
        return Err("not a mapping".to_string());
    };
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty())
    };
    if !text(map.get("apiVersion")) {
        return Err("no `apiVersion`".to_string());
    }
    if !text(map.get("kind")) {
        return Err("no `kind`".to_string());
    }
    if !text(map.get("metadata").and_then(|m| m.get("name"))) {
        return Err("no `metadata.name`".to_string());
    }
    Ok(())
}

/// `Kind/name` for error messages.
fn describe_object(obj: &Value) -> String {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("?");
    let name = obj
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    format!("{kind}/{name}")
}

fn check_json_patch(patch: &Value) -> Result<(), String> {
    let Some(ops) = patch.as_array() else {
        return Err("a JSON patch must be a list of operations".to_string());
    };
    if ops.is_empty() {
        return Err("the JSON patch is an empty list".to_string());
    }
    const OPS: [&str; 6] = ["add", "remove", "replace", "move", "copy", "test"];
    for (i, op) in ops.iter().enumerate() {
        let name = op.get("op").and_then(Value::as_str).unwrap_or_default();
        if !OPS.contains(&name) {
            let hint = closest(name, OPS)
                .map(|b| format!(" (did you mean `{b}`?)"))
                .unwrap_or_default();
            return Err(format!(
                "operation {}: `op` must be one of {}{hint}",
                i + 1,
                OPS.join(", ")
            ));
        }
        if !op
            .get("path")
            .and_then(Value::as_str)
            .is_some_and(|p| p.is_empty() || p.starts_with('/'))
        {
            return Err(format!(
                "operation {}: `path` must be a JSON pointer such as `/metadata/labels/app`",
                i + 1
            ));
        }
    }
    Ok(())
}

/// `3`, `=3`, `==3`, `!=3`, `<3`, `<=3`, `>3`, `>=3` (spaces allowed).
pub fn parse_comparison(s: &str) -> Option<CountComparison> {
    let s = s.trim();
    let ops = [
        (">=", ComparisonOp::Ge),
        ("<=", ComparisonOp::Le),
        ("!=", ComparisonOp::Ne),
        ("==", ComparisonOp::Eq),
        (">", ComparisonOp::Gt),
        ("<", ComparisonOp::Lt),
        ("=", ComparisonOp::Eq),
    ];
    let (op, rest) = ops
        .iter()
        .find_map(|(sym, op)| s.strip_prefix(sym).map(|rest| (*op, rest)))
        .unwrap_or((ComparisonOp::Eq, s));
    let rest = rest.trim();
    if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(CountComparison {
        op,
        value: rest.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons() {
        let c = |s| parse_comparison(s).map(|c| (c.op, c.value));
        assert_eq!(c("3"), Some((ComparisonOp::Eq, 3)));
        assert_eq!(c(">=3"), Some((ComparisonOp::Ge, 3)));
        assert_eq!(c(" > 2 "), Some((ComparisonOp::Gt, 2)));
        assert_eq!(c("<2"), Some((ComparisonOp::Lt, 2)));
        assert_eq!(c("<=1"), Some((ComparisonOp::Le, 1)));
        assert_eq!(c("!=0"), Some((ComparisonOp::Ne, 0)));
        assert_eq!(c("==4"), Some((ComparisonOp::Eq, 4)));
        assert_eq!(c("=4"), Some((ComparisonOp::Eq, 4)));
        for bad in ["", ">=", "=>3", "three", "-1", ">=-1", "3.5", "~3"] {
            assert_eq!(c(bad), None, "{bad}");
        }
    }

    #[test]
    fn short_targets() {
        assert_eq!(
            parse_short_target("Pod/nginx"),
            Ok(("Pod".into(), "nginx".into()))
        );
        assert_eq!(
            parse_short_target("deployment.apps/web"),
            Ok(("deployment.apps".into(), "web".into()))
        );
        assert!(parse_short_target("nginx").is_err());
        assert!(parse_short_target("apps/v1/Deployment/web").is_err());
        assert!(parse_short_target("Pod/").is_err());
        assert!(parse_short_target("/x").is_err());
        assert!(parse_short_target("Pod/Nginx").is_err());
    }

    fn scenario(steps: &str) -> String {
        format!(
            "apiVersion: kspy.dev/v1alpha1\nkind: Scenario\nmetadata: {{name: t}}\nspec:\n  steps:\n{steps}"
        )
    }

    fn errors(source: &str) -> String {
        load_str(source, Path::new("t.yaml"))
            .expect_err("must fail")
            .to_string()
    }

    #[test]
    fn nesting_just_under_the_limit_loads_on_a_small_stack() {
        // Test threads have 2 MiB stacks, like many async runtimes' workers:
        // the deepest accepted document must not overflow them.
        let depth = yaml::MAX_DEPTH - 8;
        let deep = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let src = scenario(&format!(
            "  - expect:\n      target: Pod/x\n      sequence:\n      - subset: {{a: {deep}}}\n"
        ));
        let s = load_str(&src, Path::new("t.yaml")).expect("loads");
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn aliases_are_fine_in_moderation() {
        let src = scenario(
            "  - expect:\n      target: Pod/x\n      sequence:\n      - &running {phase: Running}\n      - *running\n",
        );
        let s = load_str(&src, Path::new("t.yaml")).expect("loads");
        let StepAction::Expect(e) = &s[0].steps[0].action else {
            panic!("expect")
        };
        assert_eq!(e[0].sequence.len(), 2);
    }

    #[test]
    fn structural_errors_name_the_field() {
        let src = scenario(
            "  - sleep: 1s\n  - expect:\n      target: Pod/x\n      sequence:\n      - phase: Running\n        holdfor: 1s\n",
        );
        let e = errors(&src);
        assert!(
            e.starts_with(
                "t.yaml:11:9: spec.steps[1].expect.sequence[0].holdfor: unknown key `holdfor`"
            ),
            "{e}"
        );
        assert!(e.contains("hint: did you mean `holdFor`?"), "{e}");

        let e = errors(&scenario("  - sleep: [1s]\n"));
        assert!(
            e.starts_with("t.yaml:6:12: spec.steps[0].sleep: expected a string"),
            "{e}"
        );
    }

    #[test]
    fn a_manifest_is_not_a_scenario() {
        let e = errors("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: []}\n");
        assert!(
            e.contains(
                "t.yaml:1:13: apiVersion: apiVersion must be `kspy.dev/v1alpha1`, found `v1`"
            ),
            "{e}"
        );
        assert!(
            e.contains("t.yaml:2:7: kind: kind must be `Scenario`, found `Pod`"),
            "{e}"
        );
        assert!(!e.contains("containers"), "{e}");
    }

    #[test]
    fn one_bad_document_does_not_hide_the_next() {
        let good = scenario("  - sleep: 1s\n");
        let src = format!(
            "{}---\n{}---\n{}",
            good.replace("name: t", "name: a")
                .replace("sleep: 1s", "sleep: 1 s x"),
            good.replace("name: t", "name: b")
                .replace("steps:", "stepz:"),
            good.replace("name: t", "name: c")
        );
        let e = errors(&src);
        assert!(
            e.contains("t.yaml:6:12: spec.steps[0].sleep: invalid duration"),
            "{e}"
        );
        assert!(
            e.contains("t.yaml:12:3: spec.stepz: unknown key `stepz`"),
            "{e}"
        );
        assert_eq!(e.lines().filter(|l| !l.starts_with("  ")).count(), 2, "{e}");
    }
}
