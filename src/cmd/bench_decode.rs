//! `bench`'s description speed, and `--decode-rounds`: the same timing in Rust and in Python
//! (`scripts/bench_python.py --describe-only`), alternated round by round with the order swapped each round.
//! On a shared machine whose speed drifts by tens of percent within a minute, one Rust run followed by one
//! Python run compares two moments as much as two runtimes; paired rounds compare each round's two sides and
//! report the median of the per-round ratios beside the medians of each side.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::cli::BenchArgs;
use crate::frame::Frame;
use crate::inference::Engine;

/// Greedy description timing on `frame` for each command set (batch = its length), `runs` runs each: tokens/s
/// over prefill and decoding, milliseconds per decoding step, tokens per description.
pub fn describe_speed(
    engine: &Engine,
    frame: &Frame,
    command_sets: &[&[String]],
    max_tokens: usize,
    runs: usize,
) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    for cmds in command_sets {
        let (mut tokens, mut secs, mut steps, mut step_secs) = (0usize, 0f64, 0usize, 0f64);
        for _ in 0..runs {
            let st = engine.encode(frame, None)?;
            let (_, tm) = engine.describe_tokens(&st, cmds, max_tokens)?;
            tokens += tm.tokens;
            steps += tm.steps;
            secs += (tm.prefill + tm.decode).as_secs_f64();
            step_secs += tm.decode.as_secs_f64();
        }
        out.push(json!({
            "batch": cmds.len(),
            "tokens_per_s": tokens as f64 / secs.max(1e-9),
            "ms_per_step": if steps > 0 { step_secs * 1e3 / steps as f64 } else { f64::NAN },
            "tokens_per_description": tokens as f64 / (runs * cmds.len()).max(1) as f64,
        }));
    }
    Ok(out)
}

/// Milliseconds per decoding step at batch `batch` in a [`describe_speed`]-shaped list.
fn step_ms(rows: &[Value], batch: usize) -> Option<f64> {
    rows.iter()
        .find(|r| r.get("batch").and_then(Value::as_u64) == Some(batch as u64))
        .and_then(|r| r.get("ms_per_step"))
        .and_then(Value::as_f64)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// `--decode-rounds`: Rust and Python description timing alternated, one table row per round and batch, then
/// the medians and the median of Python's ms per step over Rust's (above 1: Rust decodes faster).
pub fn paired_rounds(
    args: &BenchArgs,
    engine: &Engine,
    frame: &Frame,
    command_sets: &[&[String]],
    runs: usize,
) -> anyhow::Result<()> {
    let image: PathBuf = args.image.first().cloned().unwrap_or_else(|| PathBuf::from(super::bench::BUNDLED_FRAME));
    let batches: Vec<usize> = command_sets.iter().map(|c| c.len()).collect();
    // per batch: (rust ms/step, python ms/step) per round
    let mut pairs: Vec<Vec<(f64, f64)>> = vec![Vec::new(); batches.len()];
    println!();
    println!("decoding, paired rounds (order swapped each round; ms per decode step, {runs} runs per side and batch)");
    println!("{:<7} {:<14} {:>8} {:>10} {:>14}", "round", "order", "batch", "rust", "python ort");
    for round in 0..args.decode_rounds {
        let python_first = round % 2 == 1;
        let python_side = || {
            super::bench::run_python(args, std::slice::from_ref(&image), runs * 2, true).map(|v| v["describe"].clone())
        };
        let (rust, python) = if python_first {
            let p = python_side();
            (describe_speed(engine, frame, command_sets, args.max_tokens, runs)?, p)
        } else {
            let r = describe_speed(engine, frame, command_sets, args.max_tokens, runs)?;
            (r, python_side())
        };
        let python = python.and_then(|v| v.as_array().cloned()).ok_or_else(|| {
            anyhow::anyhow!("round {}: the Python side gave no description timing (see the line above)", round + 1)
        })?;
        let order = if python_first { "python, rust" } else { "rust, python" };
        for (k, &b) in batches.iter().enumerate() {
            let (r, p) = (step_ms(&rust, b).unwrap_or(f64::NAN), step_ms(&python, b).unwrap_or(f64::NAN));
            println!("{:<7} {:<14} {:>8} {:>10.3} {:>14.3}", round + 1, order, b, r, p);
            pairs[k].push((r, p));
        }
    }
    for (k, &b) in batches.iter().enumerate() {
        let rust = median(pairs[k].iter().map(|x| x.0).collect());
        let python = median(pairs[k].iter().map(|x| x.1).collect());
        let ratio = median(pairs[k].iter().map(|x| x.1 / x.0).collect());
        println!(
            "describe x{b}: median ms per decode step rust {rust:.3}, python {python:.3}; \
             median per-round python/rust {ratio:.2} ({} rounds; above 1: rust faster)",
            pairs[k].len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_skip_missing_rounds_and_average_the_middle_pair() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, f64::NAN, 2.0, 3.0]), 2.5);
        assert!(median(vec![]).is_nan());
        let rows = vec![json!({"batch": 1, "ms_per_step": 0.7}), json!({"batch": 4, "ms_per_step": 1.9})];
        assert_eq!(step_ms(&rows, 4), Some(1.9));
        assert_eq!(step_ms(&rows, 2), None);
    }
}
