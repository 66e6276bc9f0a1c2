//! Snapshot tests of every output on a synthetic run built from the
//! timeline fixtures (see `fixtures.rs`).

mod fixtures;

use std::time::Duration;

use fixtures::{SECRET_VALUES, SharedBuffer, all_reports, run_events};

use super::run::RunRecord;
use super::styles::{ColorChoice, Styles};
use super::{Reporter, json, junit, render_scenario};
use crate::runner::{EventSink, RunEvent, RunEventKind, RunSummary};

/// What varies between runs of a real cluster: durations and the generated
/// namespaces. Times relative to the first action come from the fixtures
/// and are kept: they are what the timeline is about.
fn redacted_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\[\s*\d+\.\d{3}s\]", "[DURATION]");
    settings.add_filter(r#""durationMs": \d+"#, r#""durationMs": "[DURATION]""#);
    settings.add_filter(r#"time="[0-9.]+""#, r#"time="[DURATION]""#);
    settings.add_filter(r"kspy-[a-z0-9]{5}\b", "[NAMESPACE]");
    settings.add_filter(r#""kspyVersion": "[^"]+""#, r#""kspyVersion": "[VERSION]""#);
    settings
}

/// The three outputs of one run through the fan-out.
struct Outputs {
    terminal: String,
    json: String,
    junit: String,
}

fn run_through_reporter(events: Vec<RunEvent>) -> Outputs {
    let dir = tempfile::tempdir().expect("temp dir");
    let json_path = dir.path().join("report.json");
    let junit_path = dir.path().join("junit.xml");
    let terminal = SharedBuffer::default();
    let reporter = Reporter::builder()
        .terminal(terminal.clone(), ColorChoice::Never)
        .json(&json_path)
        .junit(&junit_path)
        .build();
    for event in events {
        reporter.send(event);
    }
    reporter.finish().expect("reports written");
    Outputs {
        terminal: terminal.text(),
        json: std::fs::read_to_string(&json_path).expect("JSON report"),
        junit: std::fs::read_to_string(&junit_path).expect("JUnit report"),
    }
}

#[test]
fn terminal_json_and_junit_of_a_run() {
    let outputs = run_through_reporter(run_events(&all_reports()));
    redacted_settings().bind(|| {
        insta::assert_snapshot!("terminal", outputs.terminal);
        insta::assert_snapshot!("junit", outputs.junit);
        insta::assert_snapshot!("json", outputs.json);
    });
}

#[test]
fn secret_data_never_appears_in_any_output() {
    let outputs = run_through_reporter(run_events(&all_reports()));
    let secret = fixtures::secret_rotation();
    let rendered = render_scenario(&secret, &Styles::plain());
    for text in [&outputs.terminal, &outputs.json, &outputs.junit, &rendered] {
        for value in SECRET_VALUES {
            assert!(!text.contains(value), "{value} leaked:\n{text}");
        }
    }
    // The judge did see the data: the scrubbing is what keeps it out.
    let failure = secret.expectations[0]
        .verdict
        .failure()
        .expect("rotation fails");
    assert!(failure.to_string().contains("aHVudGVyMg=="), "{failure}");
    assert!(rendered.contains("data.password: <redacted>"), "{rendered}");
}

#[test]
fn junit_failure_text_is_the_terminal_explanation() {
    let mut record = RunRecord::default();
    for event in run_events(&[fixtures::fail_fast()]) {
        record.record(&event);
    }
    let xml = junit::to_junit(&record).expect("JUnit XML");
    assert!(
        xml.contains(r#"<failure message="Pod/nginx container nginx is waiting: ErrImagePull"#),
        "{xml}"
    );
    assert!(xml.contains(r#"type="failFast""#), "{xml}");
    let explanation = render_scenario(&fixtures::fail_fast(), &Styles::plain());
    let first_timeline_row = explanation.lines().nth(3).expect("a timeline row");
    assert!(
        xml.contains(first_timeline_row.trim()),
        "{first_timeline_row}"
    );
}

#[test]
fn colors_only_when_asked() {
    let report = fixtures::deadline_missed();
    let plain = render_scenario(&report, &Styles::plain());
    assert!(!plain.contains('\x1b'));
    let colored = render_scenario(&report, &Styles::for_choice(ColorChoice::Always));
    assert!(colored.contains("\x1b["));
    assert_eq!(
        Styles::for_choice(ColorChoice::Never).pass,
        Styles::plain().pass
    );
}

#[test]
fn files_are_written_at_finish_without_run_finished() {
    let mut events = run_events(&[fixtures::passing()]);
    events.retain(|e| !matches!(e.kind, RunEventKind::RunFinished { .. }));
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("report.json");
    let reporter = Reporter::builder().json(&path).build();
    for event in events {
        reporter.send(event);
    }
    assert!(
        !path.exists(),
        "written at RunFinished or finish, not before"
    );
    reporter.finish().expect("written");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("file")).expect("JSON");
    assert_eq!(doc["schemaVersion"], json::SCHEMA_VERSION);
    assert_eq!(doc["summary"]["passed"], 1);
    assert_eq!(
        doc["scenarios"][0]["expectations"][0]["stepVerdicts"][3]["heldUntilMs"],
        7080
    );
}

#[test]
fn a_file_that_cannot_be_written_is_an_error_naming_it() {
    let reporter = Reporter::builder()
        .junit("/nonexistent-dir/junit.xml")
        .build();
    let error = reporter.finish().expect_err("no such directory");
    assert!(
        error.to_string().contains("/nonexistent-dir/junit.xml"),
        "{error}"
    );
}

#[test]
fn interrupted_summary_with_cleanup() {
    let reporter_out = SharedBuffer::default();
    let reporter = Reporter::builder()
        .terminal(reporter_out.clone(), ColorChoice::Never)
        .build();
    let event = |kind| RunEvent {
        elapsed: Duration::from_millis(3_200),
        kind,
    };
    reporter.send(event(RunEventKind::Interrupted {
        signal: "SIGINT".into(),
    }));
    reporter.send(event(RunEventKind::Cleanup {
        scenario: "nginx-pod-lifecycle".into(),
        deleted: vec!["kspy-q7x2m".into()],
        left: Vec::new(),
        errors: vec!["namespace kspy-b4k9d: still terminating after 30s".into()],
    }));
    reporter.send(event(RunEventKind::RunFinished {
        summary: RunSummary {
            passed: 1,
            failed: 0,
            errors: 0,
            skipped: 2,
            interrupted: true,
            duration: Duration::from_millis(3_345),
        },
    }));
    reporter.finish().expect("flushed");
    insta::assert_snapshot!(reporter_out.text(), @r"
    INTERRUPTED by SIGINT: stopping and cleaning up
     Summary [   3.345s] 1 scenario: 1 passed, 0 failed, 0 errors, 2 skipped (interrupted)
     Cleanup deleted 1 namespace: kspy-q7x2m
     Cleanup failed: namespace kspy-b4k9d: still terminating after 30s
    ");
}

#[test]
fn html_report_draws_states_steps_gaps_and_deadlines_without_secrets() {
    let mut record = RunRecord::default();
    for event in run_events(&all_reports()) {
        record.record(&event);
    }
    let page = super::html::to_html(&record);
    if let Ok(path) = std::env::var("KSPY_HTML_FIXTURE_OUT") {
        std::fs::write(path, &page).expect("written");
    }
    for value in SECRET_VALUES {
        assert!(!page.contains(value), "{value} leaked");
    }
    for needle in [
        "class=\"gap\"",
        "class=\"deadline\"",
        "class=\"mark bad",
        "class=\"mark ok",
        ">ContainerCreating<",
        ">ErrImagePull<",
    ] {
        assert!(page.contains(needle), "{needle} missing");
    }
    // Failures before passes, in the table and the sections.
    let first_failed = page.find("<details class=\"scenario failed").expect("a failed section");
    let first_passed = page.find("<details class=\"scenario passed").expect("a passed section");
    assert!(first_failed < first_passed);
    assert!(!page.contains("<script src") && !page.contains("http://") && !page.contains("https://"));
}

#[test]
fn html_report_of_two_hundred_scenarios_opens_only_the_failures() {
    let reports: Vec<_> = (0..30).flat_map(|_| all_reports()).take(200).collect();
    let not_passed = reports
        .iter()
        .filter(|r| !matches!(r.result, crate::runner::ScenarioResult::Passed))
        .count();
    let mut record = RunRecord::default();
    for event in run_events(&reports) {
        record.record(&event);
    }
    let page = super::html::to_html(&record);
    assert_eq!(page.matches("<details class=\"scenario").count(), 200);
    assert_eq!(page.matches(" open>").count(), not_passed);
    assert!(page.matches("<details class=\"scenario passed").count() > 0);
}
