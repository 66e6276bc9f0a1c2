//! `kspy changes OBJECT`: every change to the whole object — spec,
//! metadata and status — as a diff (kubespy's `changes`). managedFields,
//! resourceVersion and generation are hidden unless `--all`.

use std::process::ExitCode;

use clap::Args;
use kspy::observe::Scope;

use super::block_on;
use super::status::{StatusArgs, watch};

#[derive(Debug, Args)]
pub struct ChangesArgs {
    #[command(flatten)]
    pub object: StatusArgs,
    /// Also show managedFields, resourceVersion and generation, and
    /// snapshots that change nothing else.
    #[arg(long)]
    pub all: bool,
}

pub fn run(args: ChangesArgs) -> ExitCode {
    let scope = Scope::Object { all: args.all };
    block_on(watch(args.object, scope))
}
