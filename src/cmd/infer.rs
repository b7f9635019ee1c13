//! placeholder
pub fn run(_a: &crate::cli::InferArgs) -> anyhow::Result<()> { Ok(()) }
