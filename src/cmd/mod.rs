//! Subcommand implementations behind the CLI (`infer`, `eval`, `bench` with its `--pipeline` benchmarks,
//! `parity`, `build-engines`); `run` turns its flags into a [`crate::config::run::RunConfig`] and hands it to
//! `app`.

pub mod bench;
pub mod bench_decode;
pub mod engines;
pub mod eval;
pub mod infer;
pub mod metrics;
pub mod parity;
pub mod pipeline_bench;

use std::path::Path;

use anyhow::Context;

use crate::cli::Command;
use crate::frame::Frame;

pub fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run(args) => crate::app::run(args.to_config()?),
        Command::Infer(args) => infer::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Parity(args) => parity::run(&args),
        Command::BuildEngines(args) => engines::run(&args),
    }
}

/// Decode a PNG/JPEG into an RGB8 [`Frame`] (seq 0, stamped now, frame_id "image").
pub fn load_frame(path: &Path) -> anyhow::Result<Frame> {
    let img = image::open(path)
        .with_context(|| format!("cannot read image {} (PNG or JPEG expected)", path.display()))?
        .into_rgb8();
    let (width, height) = img.dimensions();
    Ok(Frame {
        seq: 0,
        stamp: std::time::SystemTime::now(),
        frame_id: "image".into(),
        width,
        height,
        data: img.into_raw(),
    })
}
