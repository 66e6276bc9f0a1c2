//! The simulated kubelet (kwok + ci/controlplane/kwok/nodeagent) against the
//! real control plane: each trial creates objects in its own namespace and
//! checks, through real watch events, that a Pod goes through the states a
//! real node shows (docs/simulated-kubelet.md,
//! /work/shared/reference/real-node-behaviour.md).
//!
//! One cluster serves every trial; it is stopped before the process exits,
//! whatever the outcome.

mod support;

#[path = "kubelet/controllers.rs"]
mod controllers;
#[path = "kubelet/exits.rs"]
mod exits;
#[path = "kubelet/failures.rs"]
mod failures;
#[path = "kubelet/ns.rs"]
mod ns;
#[path = "kubelet/pods.rs"]
mod pods;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};

use support::cluster::TestCluster;

type Case = fn(kube::Client) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

macro_rules! case {
    ($f:path) => {
        (stringify!($f), (|c| Box::pin($f(c))) as Case)
    };
}

fn main() {
    let args = Arguments::from_args();
    let cases: Vec<(&str, Case)> = vec![
        case!(pods::nginx_goes_through_the_four_states),
        case!(pods::graceful_deletion_ends_with_the_pod_gone),
        case!(pods::init_containers_complete_in_order_before_the_app),
        case!(pods::readiness_probe_shows_running_before_ready),
        case!(pods::sidecar_runs_beside_the_app_until_it_ends),
        case!(failures::unknown_image_alternates_err_image_pull_and_back_off),
        case!(failures::missing_configmap_blocks_until_created),
        case!(failures::missing_secret_blocks_and_optional_volumes_do_not),
        case!(failures::missing_pvc_is_unschedulable),
        case!(failures::too_much_cpu_is_unschedulable),
        case!(failures::env_from_a_missing_key_is_create_container_config_error),
        case!(exits::commands_exit_with_their_codes),
        case!(exits::crash_loop_backs_off_with_growing_restarts),
        case!(exits::failing_init_container_fails_a_never_pod),
        case!(exits::on_failure_restarts_until_success),
        case!(controllers::job_failing_past_backoff_limit_fails),
        case!(controllers::job_succeeding_completes),
        case!(controllers::service_endpoints_follow_ready_labelled_pods),
        case!(controllers::node_lease_is_renewed),
    ];
    let listing = args.list;
    let cluster = if listing {
        None
    } else {
        Some(TestCluster::start())
    };
    let runtime = Arc::new(tokio::runtime::Runtime::new().expect("a tokio runtime"));
    let client = cluster.as_ref().map(|c| {
        runtime
            .block_on(kspy::cluster::client_for_kubeconfig(&c.kubeconfig))
            .expect("a client for the test cluster")
    });
    let trials = cases
        .into_iter()
        .map(|(path, case)| {
            let name = path.replace("::", "/");
            let (runtime, client) = (runtime.clone(), client.clone());
            Trial::test(name, move || {
                let client = client.expect("a cluster");
                runtime.block_on(case(client)).map_err(|e| Failed::from(format!("{e:#}")))
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    // Stop the cluster before exiting: exit() does not run destructors.
    drop(client);
    drop(cluster);
    conclusion.exit();
}
