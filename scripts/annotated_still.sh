#!/usr/bin/env bash
# Regenerates the README still, scripts/annotated_still.jpg (320 px wide), from one frame of the annotated
# video that scripts/run_main.sh writes. Usage: scripts/annotated_still.sh [VIDEO] [FRAME_INDEX]
set -euo pipefail
cd "$(dirname "$0")/.."
VIDEO="${1:-out/annotated.webm}"
FRAME="${2:-60}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
gst-launch-1.0 -q filesrc location="$VIDEO" ! decodebin ! videoconvert ! videoscale \
  ! video/x-raw,width=320,pixel-aspect-ratio=1/1 ! jpegenc quality=85 ! multifilesink location="$tmp/f%05d.jpg"
frames=("$tmp"/f*.jpg)
[ -e "${frames[0]}" ] || { echo "no frames decoded from $VIDEO" >&2; exit 1; }
index=$(( FRAME < ${#frames[@]} ? FRAME : ${#frames[@]} - 1 ))
cp "${frames[$index]}" scripts/annotated_still.jpg
echo "scripts/annotated_still.jpg <- frame $index of $VIDEO (${#frames[@]} frames)"
