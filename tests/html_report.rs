//! `kspy run --html FILE` on real scenarios against the local control plane,
//! the page then opened in Debian's headless Chromium: the DOM after the
//! script ran must show the failures, the observed states and the missed
//! deadline, and a screenshot is saved for review
//! (`<target>/html-report/report.png`).
//!
//! Chromium is required: without it the trials fail and say how to install
//! it (`.ci/run` installs it).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use libtest_mimic::{Arguments, Failed, Trial};
use support::cluster::TestCluster;

/// A Pod that runs: created, scheduled, ContainerCreating, Running.
const PASSING: &str = r#"
apiVersion: kspy.dev/v1alpha1
kind: Scenario
metadata:
  name: html-nginx-runs
spec:
  timeout: 2m
  steps:
  - apply: manifests/nginx.yaml
  - expect:
      target: Pod/nginx
      sequence:
      - state: scheduled
        within: 30s
        condition: {type: PodScheduled}
      - state: running
        within: 1m
        phase: Running
        condition: {type: Ready}
"#;

/// A bad image tag with expectFailure: passes, failed as expected.
const EXPECTED_FAILURE: &str = r#"
apiVersion: kspy.dev/v1alpha1
kind: Scenario
metadata:
  name: html-bad-image-expected
spec:
  timeout: 2m
  expectFailure:
    reason: ErrImagePull
    within: 1m
  steps:
  - apply: manifests/bad-image.yaml
  - expect:
      target: Pod/nginx
      sequence:
      - state: running
        within: 1m
        phase: Running
"#;

/// The same without expectFailure: a real failure (fail fast).
const FAILING: &str = r#"
apiVersion: kspy.dev/v1alpha1
kind: Scenario
metadata:
  name: html-bad-image-fails
spec:
  timeout: 2m
  steps:
  - apply: manifests/bad-image.yaml
  - expect:
      target: Pod/nginx
      sequence:
      - state: running
        within: 1m
        phase: Running
"#;

/// A Pod stuck in ContainerCreating (missing ConfigMap): a missed deadline.
const DEADLINE: &str = r#"
apiVersion: kspy.dev/v1alpha1
kind: Scenario
metadata:
  name: html-stuck-misses-deadline
spec:
  timeout: 2m
  steps:
  - apply: manifests/stuck.yaml
  - expect:
      target: Pod/web
      sequence:
      - state: running
        within: 4s
        phase: Running
"#;

const NGINX: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: nginx}\nspec:\n  containers:\n  - {name: nginx, image: 'nginx:1.27'}\n";
const BAD_IMAGE: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: nginx}\nspec:\n  containers:\n  - {name: nginx, image: 'nginx:nonsense-tag'}\n";
const STUCK: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: web\n    image: nginx:1.27\n    volumeMounts: [{name: config, mountPath: /etc/app}]\n  volumes:\n  - {name: config, configMap: {name: not-there}}\n";

/// Where the report and screenshot are kept for review.
fn out_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("html-report")
}

fn chromium() -> Result<PathBuf, Failed> {
    for name in ["chromium", "chromium-browser"] {
        if let Ok(output) = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            && output.status.success()
        {
            return Ok(PathBuf::from(
                String::from_utf8_lossy(&output.stdout).trim(),
            ));
        }
    }
    Err(
        "chromium is not installed: this test opens the HTML report in headless Chromium. \
         Install it (Debian: `apt-get install -y chromium`; .ci/run does this)"
            .into(),
    )
}

/// Headless Chromium on `page` with a fresh profile and no network chatter.
fn run_chromium(page: &Path, extra: &[&str]) -> Result<std::process::Output, Failed> {
    let profile = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let mut command = Command::new(chromium()?);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]);
    command.arg(format!("--user-data-dir={}", profile.path().display()));
    command.args(extra);
    command.arg(format!("file://{}", page.display()));
    let output = command
        .output()
        .map_err(|e| format!("running chromium: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "chromium exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(output)
}

/// Runs the four scenarios once through the binary; the report's path.
fn report(kubeconfig: &Path) -> Result<PathBuf, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let manifests = dir.path().join("manifests");
    std::fs::create_dir_all(&manifests).map_err(|e| e.to_string())?;
    for (name, text) in [
        ("passing.yaml", PASSING),
        ("expected-failure.yaml", EXPECTED_FAILURE),
        ("failing.yaml", FAILING),
        ("deadline.yaml", DEADLINE),
    ] {
        std::fs::write(dir.path().join(name), text).map_err(|e| e.to_string())?;
    }
    for (name, text) in [
        ("nginx.yaml", NGINX),
        ("bad-image.yaml", BAD_IMAGE),
        ("stuck.yaml", STUCK),
    ] {
        std::fs::write(manifests.join(name), text).map_err(|e| e.to_string())?;
    }
    let out = out_dir();
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let html = out.join("report.html");
    let _ = std::fs::remove_file(&html);
    let output = Command::new(env!("CARGO_BIN_EXE_kspy"))
        .arg("run")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--html")
        .arg(&html)
        .arg(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .map_err(|e| format!("running kspy: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Two real failures: exit 1, not 0 (all passed) or 2 (errors).
    if output.status.code() != Some(1) {
        return Err(format!(
            "kspy run exited with {}:\n{stdout}\n{stderr}",
            output.status
        ));
    }
    if !html.exists() {
        return Err(format!(
            "{} was not written:\n{stdout}\n{stderr}",
            html.display()
        ));
    }
    Ok(html)
}

fn main() {
    let args = Arguments::from_args();
    // Without Chromium every trial fails saying so; no cluster is needed.
    let cluster = if args.list || chromium().is_err() {
        None
    } else {
        Some(TestCluster::start())
    };
    let shared: &'static OnceLock<Result<PathBuf, String>> = Box::leak(Box::new(OnceLock::new()));
    let kubeconfig = cluster.as_ref().map(|c| c.kubeconfig.clone());
    let page = move || -> Result<PathBuf, Failed> {
        let kubeconfig = kubeconfig.clone().ok_or("no cluster")?;
        shared
            .get_or_init(|| report(&kubeconfig))
            .clone()
            .map_err(Failed::from)
    };
    let dom_page = page.clone();
    let trials = vec![
        Trial::test("html_report/chromium_is_installed", || {
            chromium().map(|_| ())
        }),
        Trial::test(
            "html_report/dom_shows_failures_states_and_deadline",
            move || {
                chromium()?;
                let page = dom_page()?;
                let html = std::fs::read_to_string(&page).map_err(|e| e.to_string())?;
                let output = run_chromium(&page, &["--dump-dom"])?;
                let dom = String::from_utf8_lossy(&output.stdout).to_string();
                check_dom(&html, &dom)
            },
        ),
        Trial::test("html_report/screenshot_is_saved", move || {
            chromium()?;
            let page = page()?;
            let png = out_dir().join("report.png");
            let _ = std::fs::remove_file(&png);
            run_chromium(
                &page,
                &[
                    &format!("--screenshot={}", png.display()),
                    "--window-size=1400,1000",
                ],
            )?;
            let bytes = std::fs::read(&png).map_err(|e| format!("{}: {e}", png.display()))?;
            if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") || bytes.len() < 20_000 {
                return Err(format!(
                    "{} is not a real screenshot ({} bytes)",
                    png.display(),
                    bytes.len()
                )
                .into());
            }
            Ok(())
        }),
    ];
    let conclusion = libtest_mimic::run(&args, trials);
    drop(cluster);
    conclusion.exit();
}

fn check_dom(html: &str, dom: &str) -> Result<(), Failed> {
    let require = |needle: &str, why: &str| -> Result<(), Failed> {
        if dom.contains(needle) {
            Ok(())
        } else {
            let kept = out_dir().join("report.dom.html");
            let _ = std::fs::write(&kept, dom);
            Err(format!(
                "the rendered DOM lacks {why} ({needle:?}); it is in {}",
                kept.display()
            )
            .into())
        }
    };
    // The script ran: it marks the body and fills the failures' panels.
    require("class=\"js\"", "the script's mark on <body>")?;
    require(
        "<h3>✗ fail fast: ErrImagePull</h3>",
        "the failure's details panel, filled by the script",
    )?;
    require(
        "<h3>✗ deadline of step 1 \"running\" missed</h3>",
        "the missed deadline's details panel",
    )?;
    // Summary: the two failures above the two passes.
    let row = |name: &str| {
        dom.find(&format!("<tr class=\"failed\" data-name=\"{name}\""))
            .or_else(|| dom.find(&format!("<tr class=\"passed\" data-name=\"{name}\"")))
    };
    let positions: Vec<Option<usize>> = [
        "html-bad-image-fails",
        "html-stuck-misses-deadline",
        "html-bad-image-expected",
        "html-nginx-runs",
    ]
    .iter()
    .map(|n| row(n))
    .collect();
    if positions.iter().any(Option::is_none) {
        return Err(format!("a scenario is missing from the summary: {positions:?}").into());
    }
    let worst_failure = positions[0].max(positions[1]);
    let best_pass = positions[2].min(positions[3]);
    if worst_failure > best_pass {
        return Err(format!("failures are not listed first: {positions:?}").into());
    }
    require(
        "<tr class=\"failed\" data-name=\"html-bad-image-fails\"",
        "the real failure",
    )?;
    require("(failed as expected)", "the expected failure")?;
    // Observed states as spans, the ✓ and ✗ marks, the deadline.
    require(">ContainerCreating</span>", "the ContainerCreating span")?;
    require(">Running", "a Running span")?;
    require(">ErrImagePull</span>", "the ErrImagePull span")?;
    require("class=\"mark ok", "a ✓ for a matched step")?;
    require("class=\"mark bad", "a ✗ for a failed step")?;
    require("class=\"deadline\"", "the missed deadline")?;
    require("deadline 4s", "the deadline's length")?;
    // Failures open, passes collapsed.
    require(
        "data-name=\"html-bad-image-fails\" open",
        "the first failure expanded",
    )?;
    if html.contains("https://") || html.contains("<script src") || html.contains("<link") {
        return Err("the page loads something from elsewhere".into());
    }
    Ok(())
}
