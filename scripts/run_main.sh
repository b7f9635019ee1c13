#!/usr/bin/env bash
# The main job: install what is missing (runtime only), build the release binary, and run the model on the
# bundled camera frame with a bundled command list. Writes out/overlay.png (masks, boxes, labels), one mask
# PNG per command and out/result.json.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh --runtime
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --quiet
target/release/pixel-sail infer \
  --model models/tiny \
  --image tests/fixtures/tabletop_640x480.jpg \
  --prompt "pick up the green triangle" \
  --prompt "grab the blue triangle" \
  --prompt "find the red square" \
  --prompt "where is the yellow star?" \
  --describe \
  --point 50,225 \
  --out out "$@"
