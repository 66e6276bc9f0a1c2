//! The valid fixtures load, and load into the model they describe.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kspy::expect::{ComparisonOp, FieldTest, Matcher, Target};
use kspy::scenario::{
    Cleanup, NamespaceMode, Patch, Scenario, StepAction, load_file, load_files, scenario_files,
};

const DIR: &str = "tests/fixtures/scenarios/valid";

fn load(name: &str) -> Vec<Scenario> {
    let path = Path::new(DIR).join(name);
    load_file(&path).unwrap_or_else(|e| panic!("{}:\n{e}", path.display()))
}

#[test]
fn every_valid_fixture_loads_and_names_are_unique() {
    let (files, errors) = scenario_files(&[PathBuf::from(DIR)]);
    assert!(errors.is_empty(), "{errors:?}");
    let names: Vec<_> = files
        .iter()
        .map(|f| f.file_name().and_then(|n| n.to_str()).unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        ["every-form.yaml", "pod-lifecycle.yaml", "short.yml"]
    );
    for load in load_files(&files) {
        if let Err(e) = load.result {
            panic!("{}:\n{e}", load.file.display());
        }
    }
}

#[test]
fn the_contract_example() {
    let scenarios = load("pod-lifecycle.yaml");
    assert_eq!(scenarios.len(), 1);
    let s = &scenarios[0];
    assert_eq!(s.name, "nginx-pod-lifecycle");
    assert_eq!(
        s.description.as_deref(),
        Some("The four states of the kubespy post.")
    );
    assert_eq!((s.location.line, s.location.column), (2, 1));
    assert_eq!(s.timeout, Duration::from_secs(180));
    assert_eq!(s.namespace, NamespaceMode::Generated);
    assert_eq!(s.cleanup, Cleanup::Always);
    assert!(s.expect_failure.is_none());
    assert_eq!(s.steps.len(), 2);

    let StepAction::Apply(m) = &s.steps[0].action else {
        panic!("apply")
    };
    assert_eq!(s.steps[0].location.line, 12);
    assert_eq!(
        m.file.as_deref(),
        Some(Path::new(DIR).join("manifests/nginx-pod.yaml").as_path())
    );
    assert_eq!(m.objects.len(), 1);
    assert_eq!(m.objects[0]["metadata"]["name"], "nginx");

    let StepAction::Expect(e) = &s.steps[1].action else {
        panic!("expect")
    };
    assert_eq!(e.len(), 1);
    let e = &e[0];
    let Target::Named {
        kind,
        name,
        namespace,
    } = &e.target
    else {
        panic!("named")
    };
    assert_eq!(
        (
            kind.kind.as_str(),
            kind.api_version.as_deref(),
            name.as_str(),
            namespace
        ),
        ("Pod", None, "nginx", &None)
    );
    assert!(e.fail_fast);
    let labels: Vec<_> = e.sequence.iter().map(|s| s.state.display_label()).collect();
    assert_eq!(labels, ["created", "scheduled", "creating", "running"]);
    let within: Vec<_> = e
        .sequence
        .iter()
        .map(|s| s.within.map(|d| d.as_secs()))
        .collect();
    assert_eq!(within, [Some(5), Some(30), Some(30), Some(120)]);
    assert_eq!(e.sequence[3].hold_for, Some(Duration::from_secs(3)));
    assert_eq!(e.sequence[3].state.matchers.len(), 2);
    let Matcher::Condition(c) = &e.sequence[1].state.matchers[0] else {
        panic!("condition")
    };
    assert_eq!(
        (c.type_.as_str(), c.status.as_str()),
        ("PodScheduled", "True")
    );
    let Matcher::Container(c) = &e.sequence[2].state.matchers[0] else {
        panic!("container")
    };
    assert_eq!(
        (c.name.as_deref(), c.waiting.as_deref(), c.init),
        (Some("nginx"), Some("ContainerCreating"), false)
    );
    assert_eq!(e.never.len(), 1);
    assert_eq!(e.never[0].display_label(), "container waiting=ErrImagePull");
}

#[test]
fn every_form() {
    let scenarios = load("every-form.yaml");
    assert_eq!(scenarios.len(), 2);
    let s = &scenarios[0];
    assert_eq!(s.timeout, Duration::from_secs(90));
    assert_eq!(s.namespace, NamespaceMode::Fixed("kspy-fixed".into()));
    assert_eq!(s.cleanup, Cleanup::OnSuccess);
    let ef = s.expect_failure.as_ref().expect("expectFailure");
    assert!(ef.reason.is_match("Back-off: ImagePullBackOff"));
    assert_eq!(ef.within, Some(Duration::from_secs(20)));

    let actions: Vec<&str> = s
        .steps
        .iter()
        .map(|st| match &st.action {
            StepAction::Apply(_) => "apply",
            StepAction::Expect(_) => "expect",
            StepAction::Delete { .. } => "delete",
            StepAction::Patch { .. } => "patch",
            StepAction::Sleep(_) => "sleep",
        })
        .collect();
    assert_eq!(
        actions,
        [
            "apply", "expect", "apply", "apply", "apply", "expect", "patch", "patch", "sleep",
            "delete", "delete", "expect"
        ]
    );

    // The expect after a one-object apply defaults to that object.
    let StepAction::Expect(e) = &s.steps[1].action else {
        panic!()
    };
    assert_eq!(e[0].target, Target::PreviousApply);
    assert!(!e[0].fail_fast);
    let m = &e[0].sequence[0].state.matchers;
    // Matchers come in the format's order: phase, condition, container, initContainer, ...
    let Matcher::Container(init) = &m[2] else {
        panic!("init")
    };
    assert!(init.init);
    assert_eq!(
        (init.terminated.as_deref(), init.exit_code),
        (Some("Completed"), Some(0))
    );
    let Matcher::Container(c) = &m[1] else {
        panic!("container")
    };
    assert_eq!((c.running, c.ready), (Some(true), Some(true)));
    assert_eq!(
        c.restarts.map(|r| (r.op, r.value)),
        Some((ComparisonOp::Eq, 0))
    );

    // Inline manifests: one object, then a list of two.
    let StepAction::Apply(m) = &s.steps[2].action else {
        panic!()
    };
    assert_eq!((m.file.is_none(), m.objects.len()), (true, 1));
    let StepAction::Apply(m) = &s.steps[3].action else {
        panic!()
    };
    assert_eq!(m.objects.len(), 2);
    let StepAction::Apply(m) = &s.steps[4].action else {
        panic!()
    };
    assert_eq!(m.objects.len(), 2, "a file of two documents");

    // Concurrent expectations, long-form targets, selector and count.
    let StepAction::Expect(e) = &s.steps[5].action else {
        panic!()
    };
    assert_eq!(e.len(), 2);
    let Target::Named {
        kind,
        name,
        namespace,
    } = &e[0].target
    else {
        panic!()
    };
    assert_eq!(
        (
            kind.api_version.as_deref(),
            kind.kind.as_str(),
            name.as_str(),
            namespace.as_deref()
        ),
        (Some("apps/v1"), "Deployment", "web", Some("kspy-fixed"))
    );
    let m = &e[0].sequence[0].state.matchers;
    assert_eq!(m.len(), 3, "condition and two fields");
    let Matcher::Condition(c) = &m[0] else {
        panic!()
    };
    assert_eq!(c.reason.as_deref(), Some("MinimumReplicasAvailable"));
    assert!(
        c.message
            .as_ref()
            .is_some_and(|r| r.is_match("Deployment has minimum availability."))
    );
    let Matcher::Field(f) = &m[1] else { panic!() };
    assert_eq!(
        (f.path.as_str(), f.query.as_str()),
        ("{.status.readyReplicas}", "$.status.readyReplicas")
    );
    assert!(matches!(&f.test, FieldTest::Equals(v) if v == 2));
    let Matcher::Field(f) = &m[2] else { panic!() };
    assert_eq!(
        f.query,
        "$.status.conditions[?@.type=='Progressing'].reason"
    );
    assert!(matches!(&f.test, FieldTest::Matches(_)));

    let Target::Selector { kind, selector, .. } = &e[1].target else {
        panic!()
    };
    assert_eq!((kind.kind.as_str(), selector.as_str()), ("pods", "app=web"));
    assert_eq!(e[1].sequence[0].count, Some(2));
    let m = &e[1].sequence[0].state.matchers;
    assert!(matches!(&m[0], Matcher::Field(f) if matches!(f.test, FieldTest::Exists(true))));
    assert!(matches!(&m[1], Matcher::Subset(v) if v["status"]["phase"] == "Running"));
    let Matcher::Container(c) = &e[1].sequence[1].state.matchers[0] else {
        panic!()
    };
    assert_eq!(
        (c.last_terminated.as_deref(), c.exit_code),
        (Some("OOMKilled"), Some(137))
    );
    assert_eq!(
        c.restarts.map(|r| (r.op, r.value)),
        Some((ComparisonOp::Ge, 1))
    );
    assert_eq!(e[1].never.len(), 2);
    assert_eq!(e[1].never[0].label.as_deref(), Some("crash-looping"));
    let Matcher::Event(ev) = &e[1].never[1].matchers[0] else {
        panic!()
    };
    assert_eq!(
        (ev.reason.as_deref(), ev.type_.as_deref()),
        (Some("FailedScheduling"), Some("Warning"))
    );

    let StepAction::Patch {
        target,
        patch: Patch::Merge(v),
    } = &s.steps[6].action
    else {
        panic!()
    };
    assert!(matches!(target, Target::Named { name, .. } if name == "nginx"));
    assert!(v["metadata"]["labels"]["app"].is_null());
    let StepAction::Patch {
        patch: Patch::Json(v),
        ..
    } = &s.steps[7].action
    else {
        panic!()
    };
    assert_eq!(v[0]["op"], "remove");
    assert!(matches!(s.steps[8].action, StepAction::Sleep(d) if d == Duration::from_secs(2)));
    assert!(matches!(
        &s.steps[9].action,
        StepAction::Delete { wait: true, .. }
    ));
    let StepAction::Delete {
        target,
        wait: false,
    } = &s.steps[10].action
    else {
        panic!()
    };
    assert!(matches!(target, Target::Named { kind, .. } if kind.kind == "deployment.apps"));
    let StepAction::Expect(e) = &s.steps[11].action else {
        panic!()
    };
    assert!(matches!(
        e[0].sequence[0].state.matchers[0],
        Matcher::Deleted(true)
    ));

    // Second document: defaults, and an expect as the first step.
    let s = &scenarios[1];
    assert_eq!(s.name, "watch-existing");
    assert_eq!(
        (s.timeout, s.cleanup),
        (Duration::from_secs(300), Cleanup::Never)
    );
    assert_eq!(s.location.line, 73);
    let StepAction::Expect(e) = &s.steps[0].action else {
        panic!()
    };
    assert!(matches!(
        e[0].sequence[0].state.matchers[1],
        Matcher::Deleted(false)
    ));
}

#[test]
fn short_forms() {
    let s = &load("short.yml")[0];
    assert_eq!(s.name, "short-yml");
    let StepAction::Expect(e) = &s.steps[1].action else {
        panic!()
    };
    assert_eq!(e[0].target, Target::PreviousApply);
    assert!(matches!(
        &s.steps[2].action,
        StepAction::Delete { wait: true, .. }
    ));
}
