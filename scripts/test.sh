#!/usr/bin/env bash
# Every test: installs what is missing (runtime and test dependencies), then the Rust tests (real ONNX Runtime
# sessions, GStreamer pipelines), the Python model tests, and the ROS interop tests.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh --all
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"

echo "== cargo test" >&2
cargo test --quiet

echo "== python model tests" >&2
.venv/bin/python -m pytest -q models/tests
