//! `scenarios/` as `cargo test` tests, one per scenario, through kspy's own
//! harness (the trials a user's crate gets from `kspy::harness::main`), then
//! a check that the run left no namespace behind.

mod support;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};
use kspy::runner::namespace::RUN_LABEL;
use libtest_mimic::Arguments;
use support::cluster::TestCluster;

fn main() {
    let mut args = Arguments::from_args();
    // As kspy::harness::main does: scenarios wait on the cluster, not a CPU.
    if args.test_threads.is_none() {
        args.test_threads = Some(8);
    }
    let scenarios = kspy::harness::load(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios").as_ref())
        .unwrap_or_else(|errors| panic!("scenarios/ must load: {errors}"));
    if args.list {
        libtest_mimic::run(&args, kspy::harness::trials(scenarios, None)).exit();
    }
    let cluster = TestCluster::start();
    let trials = kspy::harness::trials(scenarios, Some(cluster.kubeconfig.clone()));
    let conclusion = libtest_mimic::run(&args, trials);
    let leftovers = kspy_namespaces(&cluster);
    drop(cluster);
    if !leftovers.is_empty() {
        eprintln!("namespaces created by kspy are still there after the run: {leftovers:?}");
        std::process::exit(101);
    }
    conclusion.exit()
}

/// Namespaces carrying kspy's run label: every scenario cleans up after
/// itself (the runner waits for its namespace to be gone), so none may remain.
fn kspy_namespaces(cluster: &TestCluster) -> Vec<String> {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let client = kspy::cluster::client_for_kubeconfig(&cluster.kubeconfig).await.expect("a client");
        let namespaces: Api<Namespace> = Api::all(client);
        let list = namespaces.list(&ListParams::default().labels(RUN_LABEL)).await.expect("namespaces list");
        list.items.into_iter().filter_map(|n| n.metadata.name).collect()
    })
}
