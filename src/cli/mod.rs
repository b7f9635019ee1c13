//! Command line: `pixel-sail run | infer | eval | bench | parity | build-engines`. Flags shared by every subcommand that loads the
//! model live in [`EngineArgs`] (flattened), so `--model`/`--ep` mean the same thing everywhere. The clap structs
//! live here and nowhere else; `run`'s flags ([`run`]) become a [`crate::config::run::RunConfig`], never read
//! again after that.

mod run;

pub use run::{PipelineArgs, RunArgs};

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{ConfigError, EngineConfig, PolicyKind, ProviderKind, TensorRtOptions, parse_provider_list};

#[derive(Debug, Parser)]
#[command(
    name = "pixel-sail",
    version,
    about = "Pixel-SAIL referring segmentation and region description (ONNX Runtime, ROS 2)"
)]
pub struct Cli {
    /// More logging (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only warnings and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parse `std::env::args`, splitting off a trailing ROS argument block first: everything from the first
    /// `--ros-args` on (the marker included, unchanged) goes to [`RunArgs::ros_args`], as ROS tools pass it.
    pub fn parse_with_ros_args() -> Cli {
        Self::parse_from_with_ros_args(std::env::args())
    }

    pub fn parse_from_with_ros_args<I: IntoIterator<Item = String>>(args: I) -> Cli {
        let (ours, ros) = split_ros_args(args.into_iter().collect());
        let mut cli = Cli::parse_from(ours);
        if let Command::Run(run) = &mut cli.command {
            run.ros_args = ros;
        }
        cli
    }
}

/// Split argv at the first `--ros-args`; the second part keeps the marker.
pub fn split_ros_args(args: Vec<String>) -> (Vec<String>, Vec<String>) {
    match args.iter().position(|a| a == "--ros-args") {
        Some(i) => {
            let mut ours = args;
            let ros = ours.split_off(i);
            (ours, ros)
        }
        None => (args, Vec::new()),
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The live node: capture → model → ROS 2 topics / files.
    Run(RunArgs),
    /// Segment and describe on one image; writes mask PNGs, an overlay PNG and JSON.
    Infer(InferArgs),
    /// Score a labelled set (set.jsonl) and print cIoU, gIoU, N-acc and description accuracies.
    Eval(EvalArgs),
    /// Per-stage timings, 4-vs-1 command cost, description tokens/s, and the Python onnxruntime comparison.
    Bench(BenchArgs),
    /// Compare the engine on `--ep` with PyTorch's answers in the parity fixtures (found flags, mask IoU,
    /// description token ids); exits non-zero when a check fails.
    Parity(ParityArgs),
    /// Create the sessions once so TensorRT builds and caches its engines ahead of time (e.g. in an image build).
    BuildEngines(BuildEnginesArgs),
}

/// Model and ONNX Runtime options.
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Model folder (model.json, tokenizer.json, vision/text/mask_head.onnx).
    #[arg(long, default_value = "models/tiny")]
    pub model: PathBuf,
    /// Ordered execution providers, e.g. `tensorrt,cuda,cpu`. A GPU provider that cannot load is an error
    /// unless `cpu` follows it.
    #[arg(long, default_value = "cpu")]
    pub ep: String,
    /// libonnxruntime.so.* to load (else ORT_DYLIB_PATH, else the project's .venv).
    #[arg(long)]
    pub ort_lib: Option<PathBuf>,
    /// Threads per ONNX Runtime session (default: the physical cores this process may run on).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Let ONNX Runtime's idle threads spin-wait (faster on dedicated cores, wasteful on shared ones).
    #[arg(long)]
    pub spin: bool,
    /// Most commands per frame.
    #[arg(long, default_value_t = 8)]
    pub max_commands: usize,
    /// TensorRT engine cache folder.
    #[arg(long)]
    pub trt_cache: Option<PathBuf>,
    /// Build TensorRT engines in FP32 instead of FP16.
    #[arg(long)]
    pub trt_fp32: bool,
    /// Publish the first pass's masks: skip the second, closer segmentation of found objects (model.json
    /// `mask_refine`), which costs one vision pass per found object that is not already large.
    #[arg(long)]
    pub no_mask_refine: bool,
    /// Publish what the first pass found without checking it against the command's colour and shape by a
    /// closer look (model.json `confirm_found`), which costs one vision pass per small found object.
    #[arg(long)]
    pub no_confirm_found: bool,
    /// The grounding policy: `published` (what the node publishes: model.json's closer passes, checks and
    /// wording) or `model` (one pass per frame, nothing around the model). Default `published`; `eval` and
    /// `bench` report both unless one is given.
    #[arg(long, value_enum)]
    pub policy: Option<PolicyKind>,
    /// Encode the crops of the closer segmentation and the closer check with this long side (pixels)
    /// instead of model.json's `input.long_side`: fewer patches per crop, coarser masks on it.
    #[arg(long, value_name = "PX")]
    pub crop_long_side: Option<usize>,
}

impl EngineArgs {
    /// Every engine option these flags set, for `run`: its model folder, providers and command limit come from
    /// its parameters instead (`model_dir`, `execution_providers`, `max_prompts`), so `--ep` is not checked here.
    pub fn run_options(&self) -> Result<EngineConfig, ConfigError> {
        EngineArgs { ep: "cpu".into(), max_commands: 1, ..self.clone() }.to_config()
    }

    pub fn to_config(&self) -> Result<EngineConfig, ConfigError> {
        let providers: Vec<ProviderKind> = parse_provider_list(&self.ep)?;
        let cfg = EngineConfig {
            model_dir: crate::install::resolve_data_path(&self.model),
            providers,
            tensorrt: TensorRtOptions {
                fp16: !self.trt_fp32,
                cache_dir: self.trt_cache.clone(),
                ..TensorRtOptions::default()
            },
            ort_library: self.ort_lib.clone(),
            intra_threads: self.threads,
            spin_wait: self.spin,
            max_commands: self.max_commands,
            mask_threshold: None,
            mask_refine: !self.no_mask_refine,
            confirm_found: !self.no_confirm_found,
            policy: self.policy.unwrap_or_default(),
            crop_long_side: self.crop_long_side,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

#[derive(Debug, Clone, Args)]
pub struct InferArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Image file (PNG or JPEG).
    #[arg(long)]
    pub image: PathBuf,
    /// A command naming an object (repeatable).
    #[arg(long = "prompt")]
    pub prompts: Vec<String>,
    /// Describe the object at pixel x,y.
    #[arg(long, value_parser = parse_point)]
    pub point: Option<[f32; 2]>,
    /// Describe the object inside the box x0,y0,x1,y1 (pixels).
    #[arg(long = "box", value_parser = parse_box)]
    pub bbox: Option<[f32; 4]>,
    /// Also describe each commanded object (slower).
    #[arg(long)]
    pub describe: bool,
    /// Output folder for masks, overlay and result.json.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Print the result JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Depth aligned to the image (16-bit greyscale PNG, millimetres): each found object gets its 3-D position.
    #[arg(long, value_name = "PNG", requires = "camera_info")]
    pub depth: Option<PathBuf>,
    /// The camera's calibration (ROS camera_calibration YAML); needed with --depth.
    #[arg(long, value_name = "FILE", requires = "depth")]
    pub camera_info: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    /// Folder holding set.jsonl (DESIGN.md §4).
    pub set_dir: PathBuf,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Write one prediction a line here.
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    /// Score only the first N queries.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Print the metrics as one JSON object too.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Frames to time (the bundled fixture frame is used when no --image is given).
    #[arg(long)]
    pub image: Vec<PathBuf>,
    /// Timed iterations per measurement.
    #[arg(long, default_value_t = 20)]
    pub iters: usize,
    /// Description tokens per description run.
    #[arg(long, default_value_t = 16)]
    pub max_tokens: usize,
    /// Skip the Python onnxruntime comparison.
    #[arg(long)]
    pub no_python: bool,
    /// Python interpreter for the comparison (default: the project's .venv).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Then time description decoding in Rust and in Python alternately this many rounds (the order swapped
    /// each round) and print each round and the medians: a comparison the machine's drifting speed cannot tilt.
    #[arg(long, default_value_t = 0)]
    pub decode_rounds: usize,
    /// The live-pipeline benchmarks (`--pipeline`): see `cmd::pipeline_bench`.
    #[command(flatten)]
    pub pipeline: PipelineBenchArgs,
}

/// `bench --pipeline`: the live pipeline's own benchmarks ([`crate::cmd::pipeline_bench`]).
#[derive(Debug, Clone, Args)]
pub struct PipelineBenchArgs {
    /// Run the live-pipeline benchmarks instead of the per-stage ones.
    #[arg(long)]
    pub pipeline: bool,
    /// Clip for the throughput comparison.
    #[arg(long, default_value = "models/sample/tabletop.webm")]
    pub clip: PathBuf,
    /// Command list used throughout.
    #[arg(long, default_value = "models/sample/commands.txt")]
    pub commands_file: PathBuf,
    /// Frames timed per throughput run.
    #[arg(long, default_value_t = 30)]
    pub frames: usize,
    /// Rounds in the throughput comparison (alternating bare/pipeline) and the mask-rate runs.
    #[arg(long, default_value_t = 4)]
    pub rounds: usize,
    /// Live source for the latency, memory and mask-rate runs.
    #[arg(long, default_value = "test:640x480@30")]
    pub live_source: String,
    /// Length of the live latency + memory run, in seconds.
    #[arg(long, default_value_t = 60.0)]
    pub live_secs: f64,
    /// Length of each mask-rate run, in seconds (`--rounds` runs per policy).
    #[arg(long, default_value_t = 10.0)]
    pub rate_secs: f64,
    /// Sections to run, comma-separated: throughput, live, rate.
    #[arg(long, default_value = "throughput,live,rate")]
    pub sections: String,
    /// Also write the figures as one JSON object here.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ParityArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Folder holding cases.json and its frames and masks.
    #[arg(long, default_value = "tests/fixtures/parity")]
    pub fixtures: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// List every check, not only the failed ones.
    #[arg(long)]
    pub verbose_checks: bool,
}

#[derive(Debug, Clone, Args)]
pub struct BuildEnginesArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Print one JSON summary line (per-graph step and seconds).
    #[arg(long)]
    pub json: bool,
}

fn parse_point(s: &str) -> Result<[f32; 2], String> {
    let v = parse_floats(s, 2)?;
    Ok([v[0], v[1]])
}

fn parse_box(s: &str) -> Result<[f32; 4], String> {
    let v = parse_floats(s, 4)?;
    if v[2] <= v[0] || v[3] <= v[1] {
        return Err(format!("box `{s}` must have x1 > x0 and y1 > y0"));
    }
    Ok([v[0], v[1], v[2], v[3]])
}

fn parse_floats(s: &str, n: usize) -> Result<Vec<f32>, String> {
    let v: Result<Vec<f32>, _> = s.split(',').map(|p| p.trim().parse::<f32>()).collect();
    match v {
        Ok(v) if v.len() == n && v.iter().all(|x| x.is_finite()) => Ok(v),
        _ => Err(format!("expected {n} comma-separated numbers, got `{s}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ros_args_are_split_off_verbatim() {
        let argv = ["pixel-sail", "run", "--no-ros", "--prompt", "a", "--ros-args", "-r", "__ns:=/cam1", "-p", "x:=1"];
        let cli = Cli::parse_from_with_ros_args(argv.iter().map(|s| s.to_string()));
        match cli.command {
            Command::Run(r) => {
                assert!(r.no_ros);
                assert_eq!(r.prompts, vec!["a"]);
                assert_eq!(r.ros_args, vec!["--ros-args", "-r", "__ns:=/cam1", "-p", "x:=1"]);
            }
            other => panic!("parsed {other:?}"),
        }
    }

    #[test]
    fn point_and_box_parse() {
        assert_eq!(parse_point("3,4.5").unwrap(), [3.0, 4.5]);
        assert!(parse_point("3").is_err());
        assert!(parse_box("10,10,5,20").is_err());
    }
}
