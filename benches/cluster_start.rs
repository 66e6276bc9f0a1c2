//! Warm start of the local control plane: `cluster up` to ready (API server
//! /readyz, a Ready node, the default ServiceAccount) and `cluster down`,
//! with the binaries already built. Run with
//!
//!     cargo bench --bench cluster_start [-- ROUNDS]
//!
//! It prints every round and the median; the README quotes the median.

use std::time::{Duration, Instant};

use kspy::cluster::{self, UpOptions};

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let dir = std::env::temp_dir().join(format!("kspy-bench-cluster-{}", std::process::id()));
    // Build (or find) the binaries first, so the rounds measure a warm start.
    cluster::Binaries::ensure(&cluster::controlplane_dir(), |m| eprintln!("{m}")).expect("control-plane binaries");

    let mut ups = Vec::new();
    let mut downs = Vec::new();
    for round in 1..=rounds {
        let started = Instant::now();
        runtime
            .block_on(cluster::up(&UpOptions::new(dir.clone()), |_| {}))
            .expect("cluster up");
        let up = started.elapsed();
        let started = Instant::now();
        cluster::down(&dir).expect("cluster down");
        let down = started.elapsed();
        println!("round {round}: up {:.2}s, down {:.2}s", up.as_secs_f64(), down.as_secs_f64());
        ups.push(up);
        downs.push(down);
    }
    println!(
        "median of {rounds}: up to ready {:.2}s, down {:.2}s",
        median(&mut ups).as_secs_f64(),
        median(&mut downs).as_secs_f64()
    );
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}
