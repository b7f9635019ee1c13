//! `pixel-sail` binary: parse the command line, set up logging, dispatch. Everything else lives in the library.

fn main() -> std::process::ExitCode {
    let cli = pixel_sail::cli::Cli::parse_with_ros_args();
    pixel_sail::telemetry::init(cli.verbose, cli.quiet);
    match pixel_sail::cmd::dispatch(cli.command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // One actionable line: the error and its causes, joined.
            let chain: Vec<String> = err.chain().map(|e| e.to_string()).collect();
            eprintln!("error: {}", dedup_chain(&chain).join(": "));
            std::process::ExitCode::FAILURE
        }
    }
}

/// thiserror sources often repeat their own message inside the parent's; drop the repeats.
fn dedup_chain(chain: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for msg in chain {
        if !out.iter().any(|prev| prev.contains(msg.as_str())) {
            out.push(msg.clone());
        }
    }
    out
}
