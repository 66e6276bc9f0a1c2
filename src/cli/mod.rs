//! Subcommands of the `kspy` binary that need more than a few lines of
//! glue. Each turns library results into messages and an exit code.

pub mod cluster;
pub mod connect;
pub mod kubespy;
pub mod record;
pub mod run;
