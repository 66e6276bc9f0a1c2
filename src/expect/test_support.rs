//! Builders for expectations in tests, and fixture loading.

use std::time::Duration;

use regex::Regex;
use serde_json::Value;

use super::state::*;
use super::timeline::Timeline;

pub fn load(name: &str) -> Timeline {
    let path = format!(
        "{}/tests/fixtures/timelines/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Timeline::from_json(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

pub fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("test regex")
}

pub fn phase(p: &str) -> Matcher {
    Matcher::Phase(p.into())
}

pub fn cond(type_: &str) -> Matcher {
    cond_full(type_, "True", None, None)
}

pub fn cond_full(
    type_: &str,
    status: &str,
    reason: Option<&str>,
    message: Option<&str>,
) -> Matcher {
    Matcher::Condition(ConditionMatcher {
        type_: type_.into(),
        status: status.into(),
        reason: reason.map(Into::into),
        message: message.map(re),
    })
}

pub fn waiting(reason: &str) -> Matcher {
    Matcher::Container(ContainerMatcher {
        waiting: Some(reason.into()),
        ..Default::default()
    })
}

pub fn container(c: ContainerMatcher) -> Matcher {
    Matcher::Container(c)
}

pub fn field(query: &str, test: FieldTest) -> Matcher {
    Matcher::Field(FieldMatcher {
        path: query.into(),
        query: query.into(),
        test,
    })
}

pub fn subset(v: Value) -> Matcher {
    Matcher::Subset(v)
}

pub fn event(reason: &str) -> Matcher {
    Matcher::Event(EventMatcher {
        reason: Some(reason.into()),
        ..Default::default()
    })
}

pub fn state(matchers: Vec<Matcher>) -> State {
    State {
        label: None,
        matchers,
    }
}

pub fn labelled(label: &str, matchers: Vec<Matcher>) -> State {
    State {
        label: Some(label.into()),
        matchers,
    }
}

/// A step with an optional `within` in seconds.
pub fn step(state: State, within: Option<f64>) -> SequenceStep {
    SequenceStep {
        state,
        within: within.map(secs),
        hold_for: None,
        count: None,
    }
}

pub fn named(sequence: Vec<SequenceStep>) -> Expectation {
    Expectation {
        target: Target::Named {
            kind: KindRef {
                api_version: None,
                kind: "Pod".into(),
            },
            name: "x".into(),
            namespace: None,
        },
        sequence,
        never: Vec::new(),
        fail_fast: true,
    }
}

pub fn selected(sequence: Vec<SequenceStep>) -> Expectation {
    Expectation {
        target: Target::Selector {
            kind: KindRef {
                api_version: None,
                kind: "Pod".into(),
            },
            selector: "app=web".into(),
            namespace: None,
        },
        ..named(sequence)
    }
}
