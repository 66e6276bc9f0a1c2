//! The malformed corpus: every file in `tests/malformed/` must be refused
//! with an error that names the file, the line and column, and the field.
//! The full text of each file's errors is an insta snapshot
//! (`tests/snapshots/malformed__<file>.snap`).

use std::path::{Path, PathBuf};
use std::process::Command;

use kspy::scenario::{LoadErrorKind, MAX_FILE_BYTES, load_file, load_files, scenario_files};

const DIR: &str = "tests/malformed";

/// The files of the corpus (not the manifests they reference).
fn corpus() -> Vec<PathBuf> {
    let (files, errors) = scenario_files(&[PathBuf::from(DIR)]);
    assert!(errors.is_empty(), "{errors:?}");
    files
}

fn errors_of(path: &Path) -> String {
    let load = load_files(&[path.to_path_buf()]).pop().expect("one file");
    match load.result {
        Ok(s) => panic!(
            "{} loaded {} scenarios but must be refused",
            path.display(),
            s.len()
        ),
        Err(errors) => errors.to_string(),
    }
}

#[test]
fn every_malformed_file_is_refused_with_a_snapshot_of_its_errors() {
    let files = corpus();
    assert!(files.len() >= 25, "the corpus has {} files", files.len());
    let cwd = std::env::current_dir().expect("cwd").display().to_string();
    for file in files {
        let text = errors_of(&file);
        let name = file
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("file name")
            .to_string();
        insta::with_settings!({
            snapshot_suffix => name.clone(),
            prepend_module_to_snapshot => false,
            filters => vec![(regex_escape(&cwd).as_str(), "[CWD]")],
            description => format!("kspy validate {}", file.display()),
        }, {
            insta::assert_snapshot!("malformed", text);
        });
    }
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// The headline facts, spelled out so a reader need not open the snapshots:
/// file, `line:column`, field path and a word of the cause.
#[test]
fn errors_name_file_line_and_field() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "typo-withn",
            "11:9",
            "spec.steps[1].expect.sequence[0].withn",
            "did you mean `within`?",
        ),
        (
            "bad-duration",
            "11:17",
            "spec.steps[1].expect.sequence[0].within",
            "invalid duration \"5 sex\"",
        ),
        (
            "duration-without-unit",
            "6:12",
            "spec.timeout",
            "invalid duration",
        ),
        (
            "empty-state",
            "10:9",
            "spec.steps[1].expect.sequence[0]",
            "at least one matcher",
        ),
        (
            "bad-jsonpath",
            "10:23",
            "spec.steps[1].expect.sequence[0].field.path",
            "invalid JSONPath",
        ),
        (
            "jsonpath-two-templates",
            "11:17",
            "spec.steps[1].expect.sequence[0].field.path",
            "only one `{...}`",
        ),
        (
            "missing-manifest",
            "7:12",
            "spec.steps[0].apply",
            "no such file",
        ),
        (
            "manifest-without-name",
            "7:19",
            "spec.steps[0].apply.file",
            "no `metadata.name`",
        ),
        (
            "manifest-bad-yaml",
            "7:12",
            "spec.steps[0].apply",
            "broken.yaml:5:2: invalid YAML",
        ),
        (
            "unknown-matcher",
            "10:9",
            "spec.steps[1].expect.sequence[0].podPhase",
            "did you mean `phase`?",
        ),
        (
            "two-keys-in-step",
            "7:5",
            "spec.steps[0]",
            "found `apply` and `expect`",
        ),
        ("empty-step", "8:5", "spec.steps[1]", "found none"),
        ("bad-name", "4:9", "metadata.name", "nginx-lifecycle"),
        (
            "wrong-api-version",
            "1:13",
            "apiVersion",
            "kspy.dev/v1alpha1",
        ),
        ("wrong-kind", "2:7", "kind", "must be `Scenario`"),
        (
            "bad-regex",
            "10:43",
            "spec.steps[1].expect.sequence[0].condition.message",
            "invalid regex",
        ),
        (
            "duplicate-name",
            "9:1",
            "metadata.name",
            "duplicate-name.yaml:1:1",
        ),
        (
            "bad-restarts",
            "10:42",
            "spec.steps[1].expect.sequence[0].container.restarts",
            "\"=>3\"",
        ),
        ("yaml-syntax", "11:7", "", "invalid YAML"),
        ("tabs", "10:2", "", "tabs"),
        ("alias-bomb", "1:44", "", "alias bomb"),
        ("deep-nesting", "10:42", "", "nested deeper than 32 levels"),
        (
            "no-default-target",
            "9:7",
            "spec.steps[1].expect",
            "created 2 objects: Pod/a, Service/a",
        ),
        (
            "expect-first-without-target",
            "8:7",
            "spec.steps[0].expect",
            "no earlier step applies anything",
        ),
        (
            "count-without-selector",
            "11:16",
            "spec.steps[0].expect.sequence[0].count",
            "selector",
        ),
        (
            "bad-target",
            "7:13",
            "spec.steps[0].delete",
            "expected KIND/NAME",
        ),
        (
            "condition-status-unquoted",
            "10:42",
            "spec.steps[1].expect.sequence[0].condition.status",
            "\"True\"",
        ),
        (
            "missing-steps",
            "6:3",
            "spec",
            "missing required key `steps`",
        ),
        (
            "bad-cleanup",
            "6:12",
            "spec.cleanup",
            "did you mean `on-success`?",
        ),
        (
            "field-two-tests",
            "10:16",
            "spec.steps[1].expect.sequence[0].field",
            "only one of",
        ),
        (
            "never-with-within",
            "13:17",
            "spec.steps[1].expect.never[0].within",
            "no meaning in `never`",
        ),
        (
            "strict-boolean",
            "10:30",
            "spec.steps[1].expect.sequence[0].container.running",
            "boolean",
        ),
        ("empty-file", "", "", "no scenario in this file"),
        (
            "unknown-top-level-key",
            "5:1",
            "specs",
            "did you mean `spec`?",
        ),
        (
            "json-patch-bad-op",
            "10:9",
            "spec.steps[0].patch.json",
            "`op` must be one of",
        ),
        (
            "wrong-type",
            "10:9",
            "spec.steps[1].expect.sequence",
            "expected a list",
        ),
        ("not-a-mapping", "1:1", "", "expected a mapping"),
        ("binary-garbage", "1:1", "", "not a text file"),
    ];
    let files = corpus();
    for (name, line_col, field, word) in cases {
        let file = files
            .iter()
            .find(|f| f.file_stem().and_then(|s| s.to_str()) == Some(name))
            .unwrap_or_else(|| panic!("{name} is in the corpus"));
        let text = errors_of(file);
        let head = if line_col.is_empty() {
            format!("{}: ", file.display())
        } else {
            format!("{}:{line_col}: ", file.display())
        };
        let head = if field.is_empty() {
            head
        } else {
            format!("{head}{field}: ")
        };
        assert!(
            text.contains(&head),
            "{name}: expected `{head}` in:\n{text}"
        );
        assert!(text.contains(word), "{name}: expected `{word}` in:\n{text}");
    }
    assert!(
        cases.len() >= files.len() - 1,
        "every corpus file has a case here"
    );
}

#[test]
fn all_errors_of_a_file_are_reported() {
    let text = errors_of(Path::new("tests/malformed/many-errors.yaml"));
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("  hint:")).collect();
    assert_eq!(lines.len(), 5, "{text}");
}

#[test]
fn a_file_over_the_size_limit_is_refused_before_parsing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("huge.yaml");
    let line = "# padding padding padding padding padding padding padding padding\n";
    let copies = usize::try_from(MAX_FILE_BYTES).expect("fits") / line.len() + 1;
    std::fs::write(&path, line.repeat(copies)).expect("write");
    let errors = load_file(&path).expect_err("too large");
    assert_eq!(errors.len(), 1);
    let e = &errors.0[0];
    assert!(
        matches!(e.kind, LoadErrorKind::TooLarge { limit, .. } if limit == MAX_FILE_BYTES),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with(&format!("{}: file is ", path.display())),
        "{e}"
    );
}

#[test]
fn the_same_name_in_two_files_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let doc = "apiVersion: kspy.dev/v1alpha1\nkind: Scenario\nmetadata: {name: twin}\nspec:\n  steps:\n  - sleep: 1s\n";
    let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
    std::fs::write(&a, doc).expect("write");
    std::fs::write(&b, doc).expect("write");
    let loads = load_files(&[a.clone(), b.clone()]);
    assert!(loads[0].result.is_ok());
    let errors = loads[1].result.as_ref().expect_err("duplicate").to_string();
    assert!(
        errors.contains(&format!(
            "{}:1:1: metadata.name: duplicate scenario name `twin`",
            b.display()
        )),
        "{errors}"
    );
    assert!(
        errors.contains(&format!("first defined at {}:1:1", a.display())),
        "{errors}"
    );
}

fn kspy(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kspy"))
        .args(args)
        .output()
        .expect("run kspy");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn kspy_validate_refuses_the_corpus_with_exit_code_2() {
    let (code, _, stderr) = kspy(&["validate", DIR]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("error: tests/malformed/typo-withn.yaml:11:9: spec.steps[1].expect.sequence[0].withn: unknown key `withn`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("  hint: did you mean `within`?"),
        "{stderr}"
    );
    for file in corpus() {
        assert!(
            stderr.contains(&format!("error: {}", file.display())),
            "{} is reported:\n{stderr}",
            file.display()
        );
    }
    // One file at a time too.
    let (code, _, stderr) = kspy(&["validate", "tests/malformed/bad-duration.yaml"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(
            "bad-duration.yaml:11:17: spec.steps[1].expect.sequence[0].within: invalid duration"
        ),
        "{stderr}"
    );
}

#[test]
fn kspy_validate_accepts_the_valid_fixtures() {
    let (code, stdout, stderr) = kspy(&["validate", "tests/fixtures/scenarios/valid"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("ok  tests/fixtures/scenarios/valid/every-form.yaml: 2 scenarios"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok  tests/fixtures/scenarios/valid/pod-lifecycle.yaml: 1 scenario\n"),
        "{stdout}"
    );
    let (code, _, stderr) = kspy(&["validate", "tests/does-not-exist"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("tests/does-not-exist: cannot read file"),
        "{stderr}"
    );
}

#[test]
fn kspy_schema_prints_the_json_schema() {
    let (code, stdout, _) = kspy(&["schema"]);
    assert_eq!(code, 0);
    let schema: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["title"], "kspy Scenario");
}
