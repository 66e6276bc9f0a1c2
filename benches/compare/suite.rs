//! Suite wall time. (Being written: see issue 6.)

use crate::context::Context;
use crate::report::BenchResult;

pub fn run(_context: &Context) -> anyhow::Result<BenchResult> {
    anyhow::bail!("not measured yet")
}
