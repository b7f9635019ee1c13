#!/usr/bin/env bash
# The main job: install what is missing (runtime only), build the release binary, and run the live pipeline
# standalone (no ROS) on the bundled sample clip with the bundled command list: GStreamer decodes the clip, the
# tiny model segments every command on every frame and describes them in the gaps, and the results go to
# out/annotated.webm (masks, boxes, labels, descriptions drawn on the frames) and out/results.jsonl (one JSON
# object per frame). The clip's aligned depth and camera calibration give each found object its 3-D position
# (in the JSONL, the overlay's labels and the summary at the end). A progress line shows frames in/out, fps and
# latency. Extra arguments go to `pixel-sail run`.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh --runtime
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --quiet
target/release/pixel-sail run --no-ros \
  --model models/tiny \
  --source models/sample/tabletop.webm \
  --prompts-file models/sample/commands.txt \
  --depth 'models/sample/depth/%04d.png' \
  --camera-info models/sample/camera_info.yaml \
  --record out/annotated.webm \
  --jsonl out/results.jsonl "$@"
