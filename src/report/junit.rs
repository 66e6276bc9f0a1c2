//! The `--junit FILE` report: one testsuite `kspy`, one testcase per
//! scenario. A failure's message is its one-line headline and its text the
//! same plain explanation the terminal shows.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::runner::{ScenarioReport, ScenarioResult};

use super::run::RunRecord;
use super::scenario::{failure_kind, headline, render_scenario};
use super::styles::Styles;

/// The JUnit XML of a run.
pub fn to_junit(run: &RunRecord) -> Result<String, quick_junit::SerializeError> {
    let mut suite = TestSuite::new("kspy");
    suite.add_test_cases(run.scenarios.iter().map(test_case));
    let summary = run.summary();
    suite.set_time(summary.duration);
    let mut report = Report::new("kspy");
    report.set_time(summary.duration);
    report.add_test_suite(suite);
    report.to_string()
}

fn test_case(scenario: &ScenarioReport) -> TestCase {
    let kind = match &scenario.result {
        ScenarioResult::Passed => None,
        ScenarioResult::Failed { .. } => Some(NonSuccessKind::Failure),
        ScenarioResult::Error { .. } => Some(NonSuccessKind::Error),
    };
    let status = match kind {
        None => TestCaseStatus::success(),
        Some(kind) => {
            let mut status = TestCaseStatus::non_success(kind);
            status.set_message(headline(scenario).unwrap_or_default());
            status.set_description(render_scenario(scenario, &Styles::plain()));
            let ty = scenario
                .expectations
                .iter()
                .find_map(|e| e.verdict.failure().map(failure_kind))
                .unwrap_or(scenario.result.word());
            status.set_type(ty);
            status
        }
    };
    let mut case = TestCase::new(scenario.name.clone(), status);
    case.set_classname(scenario.file.display().to_string());
    case.set_time(scenario.duration);
    case
}
