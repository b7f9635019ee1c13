//! `pixel-sail run`'s configuration from a real command line to what the pipeline reads: the clap flags become
//! a `RunConfig` once, `--ros-args` (params files, `-p`, remapping `image`) resolve it once, and the engine's
//! and the worker's settings come from the resolved values. No DDS: the node is configured, not started.

use pixel_sail::cli::{Cli, Command};
use pixel_sail::config::run::RunConfig;
use pixel_sail::ros::RosPlan;

fn run_config(argv: &[&str]) -> RunConfig {
    let cli = Cli::parse_from_with_ros_args(argv.iter().map(|s| s.to_string()));
    match cli.command {
        Command::Run(args) => args.to_config().unwrap(),
        other => panic!("parsed {other:?}"),
    }
}

#[test]
fn defaults_then_flags_then_params_files_then_dash_p() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.yaml");
    let second = dir.path().join("second.yaml");
    std::fs::write(
        &first,
        "/**:\n  ros__parameters:\n    max_prompts: 3\n    max_description_tokens: 12\n    publish_tf: true\n",
    )
    .unwrap();
    std::fs::write(&second, "/cam1/seg:\n  ros__parameters:\n    max_description_tokens: 20\n").unwrap();
    let (first, second) = (first.to_str().unwrap(), second.to_str().unwrap());
    let flags = run_config(&[
        "pixel-sail",
        "run",
        "--source",
        "test",
        "--max-commands",
        "5",
        "--max-description-tokens",
        "9",
        "--describe-every-secs",
        "0",
        "--prompt",
        "the red cup",
        "--frame-id",
        "table_cam",
        "--ros-args",
        "-r",
        "__ns:=/cam1",
        "-r",
        "__node:=seg",
        "--params-file",
        first,
        "--params-file",
        second,
        "-p",
        "publish_tf:=false",
        "-p",
        "mask_threshold:=0.25",
    ]);
    // The flags alone: each flag fills its parameter; parameters without a flag keep their defaults.
    assert_eq!(flags.params.max_prompts, 5);
    assert_eq!(flags.params.max_description_tokens, 9);
    assert_eq!(flags.params.description_policy, "on_new_command");
    assert_eq!(flags.params.frame_id, "table_cam");
    assert!(!flags.params.publish_tf);
    assert_eq!(flags.params.mask_threshold, 0.5);

    let (resolved, plan) = RosPlan::prepare(flags.clone()).unwrap();
    assert_eq!(resolved.params, plan.settings().clone(), "the node and the pipeline read one resolution");
    assert_eq!(resolved.options, flags.options, "flag-only options are not touched by the ROS layers");
    assert_eq!(resolved.params.max_prompts, 3, "a params file over a flag");
    assert_eq!(resolved.params.max_description_tokens, 20, "the later params file over the earlier one");
    assert!(!resolved.params.publish_tf, "-p over a params file");
    assert_eq!(resolved.params.mask_threshold, 0.25, "-p over a default");
    assert_eq!(resolved.params.prompts, vec!["the red cup"], "a flag no later layer sets");
    assert_eq!(resolved.params.frame_id, "table_cam");

    // What the pipeline is built from follows the resolved values.
    let engine = resolved.engine_config().unwrap();
    assert_eq!(engine.max_commands, 3);
    let logit = engine.mask_threshold.expect("the node's mask_threshold is used");
    assert!((logit - (0.25f32 / 0.75).ln()).abs() < 1e-5, "{logit}");
    assert_eq!(resolved.max_description_tokens(), 20);
    assert_eq!(resolved.frame_id(), "table_cam");
}

#[test]
fn without_ros_the_flags_are_the_configuration() {
    let config = run_config(&[
        "pixel-sail",
        "run",
        "--no-ros",
        "--source",
        "test",
        "--no-describe",
        "--max-commands",
        "2",
        "--threads",
        "2",
        "--no-mask-refine",
    ]);
    assert!(config.no_ros);
    assert!(!config.describe_enabled());
    assert_eq!(config.frame_id(), "camera");
    let engine = config.engine_config().unwrap();
    assert_eq!(engine.max_commands, 2);
    assert_eq!(engine.mask_threshold, None, "model.json's threshold without the node");
    assert_eq!(engine.intra_threads, Some(2), "engine flags without a parameter reach the engine");
    assert!(!engine.mask_refine);
}

#[test]
fn a_bad_value_in_any_layer_stops_the_start_with_its_name() {
    let config = run_config(&["pixel-sail", "run", "--source", "test", "--ros-args", "-p", "max_prompts:=0"]);
    let err = RosPlan::prepare(config).err().expect("max_prompts 0 is refused").to_string();
    assert!(err.contains("max_prompts"), "{err}");
    let config = run_config(&["pixel-sail", "run", "--ros-args", "-p", "overlay:=false"]);
    let err = RosPlan::prepare(config).err().expect("no source").to_string();
    assert!(err.contains("no source"), "{err}");
}

#[test]
fn the_policy_is_a_flag_and_a_parameter_and_dash_p_wins() {
    use pixel_sail::config::PolicyKind;
    let flag = run_config(&["pixel-sail", "run", "--source", "test", "--policy", "model"]);
    assert_eq!(flag.engine_config().unwrap().policy, PolicyKind::Model, "--policy model");
    let (resolved, _) = RosPlan::prepare(flag).unwrap();
    assert_eq!(resolved.engine_config().unwrap().policy, PolicyKind::Model, "the flag survives resolution");
    let param = run_config(&["pixel-sail", "run", "--source", "test", "--ros-args", "-p", "policy:=model"]);
    let (resolved, _) = RosPlan::prepare(param).unwrap();
    assert_eq!(resolved.params.policy, "model");
    assert_eq!(resolved.engine_config().unwrap().policy, PolicyKind::Model, "-p policy:=model reaches the engine");
    let bad = run_config(&["pixel-sail", "run", "--source", "test", "--ros-args", "-p", "policy:=clever"]);
    let err = RosPlan::prepare(bad).err().expect("an unknown policy is refused").to_string();
    assert!(err.contains("`published` or `model`"), "{err}");
}
