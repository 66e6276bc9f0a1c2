//! kspy spies on Kubernetes objects through the watch API and asserts the
//! ordered sequence of states they go through, within deadlines.

pub mod cluster;
pub mod expect;
pub mod harness;
pub mod kube;
pub mod record;
pub mod observe;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod spy;
pub mod trace;
