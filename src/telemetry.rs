//! Logging: `tracing` with an env filter (`RUST_LOG` overrides), `log` records bridged in, and the noisy
//! crates held down by default. Per-frame events belong at TRACE; the provider in use is logged once at INFO.

use tracing_subscriber::EnvFilter;

/// Crates that are chatty at INFO/DEBUG; kept at WARN unless `RUST_LOG` says otherwise.
const NOISY_CRATES: &[&str] = &["ort=warn", "rustdds=warn", "mio=warn", "tokenizers=warn"];

/// Install the global subscriber. `verbose` raises our level (-v debug, -vv trace), `quiet` lowers it to WARN.
/// Safe to call twice (the second call is a no-op), so tests and binaries can both call it.
pub fn init(verbose: u8, quiet: bool) {
    let ours = match (quiet, verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        let mut spec = ours.to_string();
        for noisy in NOISY_CRATES {
            spec.push(',');
            spec.push_str(noisy);
        }
        EnvFilter::new(spec)
    });
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
    // Bridge `log` records (dependencies that use `log`) into tracing. tracing-subscriber's own
    // `tracing-log` feature usually did this already inside try_init; "already set" is fine.
    let _ = tracing_log::LogTracer::init();
}
