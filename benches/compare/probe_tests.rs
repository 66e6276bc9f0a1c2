//! One expectation about Probes ("these Probes reach status.phase B, then C"),
//! written in each tool's own format, and the command that runs it:
//!
//! - kspy: a Scenario whose only step is an `expect` on existing objects, run
//!   with `kspy run -n NS` (nothing to apply, nothing to clean up);
//! - kubectl: `kubectl wait --for=jsonpath={.status.phase}=B`;
//! - chainsaw: a `Test` (chainsaw-test.yaml) with one `assert` operation per
//!   Probe, in the existing namespace;
//! - kuttl: a `TestSuite` (kuttl-test.yaml) and a test whose step
//!   `00-assert.yaml` lists the Probes.
//!
//! Only kspy can assert an ordered sequence; the peers assert the first
//! phase only (`Expectation::phases[0]`). Every tool runs with its default
//! timeouts and poll intervals.

use std::path::Path;
use std::process::Command;

use crate::probe;
use crate::tools::Tools;

/// The four tools, in the order of every table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    Kspy,
    KubectlWait,
    Chainsaw,
    Kuttl,
}

impl Tool {
    pub const ALL: [Tool; 4] = [Tool::Kspy, Tool::KubectlWait, Tool::Chainsaw, Tool::Kuttl];

    pub fn label(self) -> &'static str {
        match self {
            Tool::Kspy => "kspy",
            Tool::KubectlWait => "kubectl wait",
            Tool::Chainsaw => "chainsaw",
            Tool::Kuttl => "kuttl",
        }
    }
}

/// Which Probes, in which namespace, and the phases they must go through.
pub struct Expectation<'a> {
    pub namespace: &'a str,
    /// The Probes' names, in the order the peers check them.
    pub names: &'a [String],
    /// `key=value` selecting exactly `names` (used by kspy and kubectl when
    /// there is more than one Probe, as their users would write it).
    pub selector: &'a str,
    pub phases: &'a [String],
    /// Each tool's own timeout, in whole seconds (kuttl takes no less);
    /// None keeps every tool's default.
    pub timeout_s: Option<u64>,
}

/// A tool's test, ready to start.
pub struct Prepared {
    pub command: Command,
    /// kspy's JSON report, when the tool is kspy.
    pub json_report: Option<std::path::PathBuf>,
}

/// Writes `tool`'s test for `expectation` into `dir` (a fresh directory) and
/// returns the command that runs it against `kubeconfig`.
pub fn prepare(tool: Tool, tools: &Tools, kubeconfig: &Path, dir: &Path, expectation: &Expectation) -> anyhow::Result<Prepared> {
    let mut json_report = None;
    let mut command = match tool {
        Tool::Kspy => {
            let scenario = dir.join("scenario.yaml");
            std::fs::write(&scenario, kspy_scenario(expectation))?;
            let report = dir.join("report.json");
            let mut command = Command::new(&tools.kspy);
            command.arg("run").arg("-n").arg(expectation.namespace).arg("--json").arg(&report).arg(&scenario);
            json_report = Some(report);
            command
        }
        Tool::KubectlWait => {
            let mut command = Command::new(&tools.kubectl);
            command
                .arg("wait")
                // -v=6 logs each request; the benchmark reads "watch=true"
                // to know kubectl is waiting. It adds one log line per request.
                .arg("-v=6")
                .arg(format!("--for=jsonpath={{.status.phase}}={}", expectation.phases[0]))
                .arg("-n")
                .arg(expectation.namespace);
            match expectation.names {
                [one] => command.arg(format!("{}/{one}", probe::RESOURCE)),
                _ => command.arg(probe::RESOURCE).arg("-l").arg(expectation.selector),
            };
            if let Some(t) = expectation.timeout_s {
                command.arg(format!("--timeout={t}s"));
            }
            command
        }
        Tool::Chainsaw => {
            let test = dir.join("chainsaw");
            std::fs::create_dir_all(&test)?;
            std::fs::write(test.join("chainsaw-test.yaml"), chainsaw_test(expectation))?;
            std::fs::write(test.join("probes-assert.yaml"), probe_documents(expectation, &expectation.phases[0]))?;
            let mut command = Command::new(&tools.chainsaw);
            command.arg("test").arg("--no-color").arg("--test-dir").arg(&test);
            if let Some(t) = expectation.timeout_s {
                command.arg(format!("--assert-timeout={t}s"));
            }
            command
        }
        Tool::Kuttl => {
            let tests = dir.join("kuttl");
            let case = tests.join("probes");
            std::fs::create_dir_all(&case)?;
            std::fs::write(dir.join("kuttl-test.yaml"), kuttl_suite(expectation, &tests))?;
            std::fs::write(case.join("00-assert.yaml"), probe_documents(expectation, &expectation.phases[0]))?;
            let mut command = Command::new(&tools.kuttl);
            command.arg("test").arg("--config").arg(dir.join("kuttl-test.yaml"));
            command
        }
    };
    command.env("KUBECONFIG", kubeconfig).current_dir(dir);
    Ok(Prepared { command, json_report })
}

/// The text in a tool's output that says it is now waiting for
/// `expectation.names[waiting_on]`, the Probe the benchmark will change.
pub fn ready_marker(tool: Tool, expectation: &Expectation, waiting_on: usize) -> String {
    match tool {
        // kspy prints START before it lists and watches: the benchmark also
        // checks in the JSON report that the verdict came from the watch
        // event of its own patch, not from the initial list.
        Tool::Kspy => "START".to_owned(),
        // One watch per object not yet in the expected state.
        Tool::KubectlWait => "watch=true".to_owned(),
        // Each assert operation logs "@ namespace/name" when it starts; the
        // first line naming that Probe is its RUN line.
        Tool::Chainsaw => format!("@ {}/{}", expectation.namespace, expectation.names[waiting_on]),
        Tool::Kuttl => "starting test step".to_owned(),
    }
}

fn kspy_scenario(expectation: &Expectation) -> String {
    let target = match expectation.names {
        [one] => format!("{{apiVersion: {}, kind: {}, name: {one}}}", probe::API_VERSION, probe::KIND),
        _ => format!("{{apiVersion: {}, kind: {}, selector: \"{}\"}}", probe::API_VERSION, probe::KIND, expectation.selector),
    };
    let count = match expectation.names {
        [_] => String::new(),
        names => format!(", count: {}", names.len()),
    };
    let mut steps = String::new();
    for phase in expectation.phases {
        steps.push_str(&format!("      - {{state: {phase}, phase: {phase}{count}}}\n"));
    }
    let timeout = expectation.timeout_s.map(|t| format!("  timeout: {t}s\n")).unwrap_or_default();
    format!(
        "apiVersion: kspy.dev/v1alpha1\nkind: Scenario\nmetadata:\n  name: probes\nspec:\n{timeout}  steps:\n  - expect:\n      target: {target}\n      sequence:\n{steps}"
    )
}

fn chainsaw_test(expectation: &Expectation) -> String {
    format!(
        "apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: probes\nspec:\n  namespace: {}\n  steps:\n  - try:\n    - assert:\n        file: probes-assert.yaml\n",
        expectation.namespace
    )
}

fn kuttl_suite(expectation: &Expectation, tests: &Path) -> String {
    let timeout = expectation.timeout_s.map(|t| format!("timeout: {t}\n")).unwrap_or_default();
    format!(
        "apiVersion: kuttl.dev/v1beta1\nkind: TestSuite\ntestDirs:\n- {}\nnamespace: {}\n{timeout}",
        tests.display(),
        expectation.namespace
    )
}

/// The Probes in `phase`, one YAML document each: what chainsaw and kuttl
/// assert (a partial object: only the fields given are compared).
fn probe_documents(expectation: &Expectation, phase: &str) -> String {
    expectation
        .names
        .iter()
        .map(|name| {
            format!(
                "apiVersion: {}\nkind: {}\nmetadata:\n  name: {name}\nstatus:\n  phase: {phase}\n",
                probe::API_VERSION,
                probe::KIND
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}
