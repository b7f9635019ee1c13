#!/usr/bin/env bash
# The Jetson build, run: cross-builds target/aarch64-unknown-linux-gnu/release/pixel-sail (scripts/build_aarch64.sh),
# runs `pixel-sail infer` on the fixture frame under qemu-user with PyPI's aarch64 onnxruntime wheel, and checks
# it against the x86_64 build on the same inputs (tests/aarch64/compare_infer.py): same found flags, masks with
# IoU >= 0.99, identical description words. GPU providers are not exercised: qemu has no GPU.
# X86_BIN=path picks the x86_64 binary (default: target/debug/pixel-sail, built if missing).
# Sources: Debian, crates.io and PyPI only.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
ORT_VERSION=1.31.1
SYSROOT=target/aarch64-sysroot
ARM_BIN=target/aarch64-unknown-linux-gnu/release/pixel-sail
ORT_DIR="target/aarch64-ort/$ORT_VERSION"
ARM_ORT="$ORT_DIR/onnxruntime/capi/libonnxruntime.so.$ORT_VERSION"
OUT=target/aarch64-parity
FRAME=tests/fixtures/tabletop_640x480.jpg
say() { echo "qemu_parity: $*" >&2; }
now() { date +%s.%N; }

scripts/build_aarch64.sh

# The aarch64 ONNX Runtime: the wheel's library, unpacked (not installed: it cannot run on this host).
if [ ! -f "$ARM_ORT" ]; then
  say "downloading onnxruntime==$ORT_VERSION for manylinux_2_28_aarch64 from PyPI"
  rm -rf "$ORT_DIR" && mkdir -p "$ORT_DIR/wheel"
  .venv/bin/pip download -q --no-deps --only-binary=:all: --platform manylinux_2_28_aarch64 --python-version 311 \
    --dest "$ORT_DIR/wheel" "onnxruntime==$ORT_VERSION"
  .venv/bin/python -m zipfile -e "$ORT_DIR"/wheel/onnxruntime-*.whl "$ORT_DIR"
  rm -rf "$ORT_DIR/wheel"
fi

X86_BIN="${X86_BIN:-}"
if [ -z "$X86_BIN" ]; then
  cargo build --quiet --bin pixel-sail
  X86_BIN=target/debug/pixel-sail
fi

# Four commands, each described: a large object, a small one (described from a closer second look), and one that
# names nothing on the table; a click on the small red square (the region description's closer look).
ARGS=(infer --image "$FRAME" --prompt "pick up the green triangle" --prompt "the blue triangle"
  --prompt "the small red triangle" --prompt "where is the yellow star?" --describe --point 337,332 --json)
rm -rf "$OUT" && mkdir -p "$OUT/x86_64" "$OUT/aarch64"
t0=$(now)
"$X86_BIN" -q "${ARGS[@]}" --out "$OUT/x86_64" >"$OUT/x86_64.json"
t1=$(now)
# qemu's -L serves the sysroot's libraries (and its fake /proc/cpuinfo) to the emulated process; no plugin
# scanner child process, which qemu-user cannot exec.
GST_REGISTRY_FORK=no qemu-aarch64 -L "$SYSROOT" "$ARM_BIN" -q "${ARGS[@]}" --ort-lib "$ARM_ORT" --out "$OUT/aarch64" \
  >"$OUT/aarch64.json"
t2=$(now)
say "$(awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "x86_64 run %.1f s, aarch64 under qemu %.1f s", b - a, c - b }')"
.venv/bin/python tests/aarch64/compare_infer.py "$OUT/x86_64.json" "$OUT/aarch64.json"
