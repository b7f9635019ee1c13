//! placeholder
pub fn run(_a: &crate::cli::EvalArgs) -> anyhow::Result<()> { Ok(()) }
