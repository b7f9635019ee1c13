#!/usr/bin/env bash
# Installs what is missing, and nothing else, so it is quick to re-run:
#   Debian/Ubuntu packages (GStreamer dev + plugins base/good/bad/ugly/libav + tools, pkg-config, gcc, python3-venv),
#   a Rust toolchain check (>= 1.95), and the project venv .venv with the pinned ONNX Runtime wheel
#   (onnxruntime==1.31.1, which the binary loads from .venv by itself).
#   --all also installs models/requirements.txt (torch, onnx, pytest, ...) for the test path, and GStreamer's
#   RTSP server for the system python3 (gir1.2-gst-rtsp-server-1.0, python3-gi: tests/rtsp_reconnect.rs), and
#   libssl-dev and openssl for the DDS Security test (tests/ros_security.rs).
# Runs as root, or with sudo for apt. Sources: Debian, crates.io, PyPI only.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
WITH_TEST_DEPS=0
for arg in "$@"; do
  case "$arg" in
    --all) WITH_TEST_DEPS=1 ;;
    --runtime) WITH_TEST_DEPS=0 ;;
    *) echo "usage: scripts/setup.sh [--runtime|--all]" >&2; exit 2 ;;
  esac
done
ORT_VERSION=1.31.1
RUST_MIN=1.95

say() { echo "setup: $*" >&2; }

# --- Debian packages -------------------------------------------------------------------------------
PACKAGES=(libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools pkg-config gcc)
command -v python3 >/dev/null 2>&1 || PACKAGES+=(python3)
# A local RTSP camera for the fault tests (tests/rtsp/rtsp_server.py runs under /usr/bin/python3); the DDS
# Security build the tests run (`--features security`: libssl-dev) and their keystores (openssl).
[ "$WITH_TEST_DEPS" -eq 1 ] && PACKAGES+=(gir1.2-gst-rtsp-server-1.0 python3-gi libssl-dev openssl)
python3 -m venv --help >/dev/null 2>&1 && python3 -c "import ensurepip" >/dev/null 2>&1 || PACKAGES+=(python3-venv)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    say "missing packages: ${missing[*]}; run as root: apt-get install --no-install-recommends ${missing[*]}"; exit 1
  fi
  say "installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Rust ------------------------------------------------------------------------------------------
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
rust_ok() {
  command -v cargo >/dev/null 2>&1 || return 1
  local v; v="$(rustc --version | awk '{print $2}')"
  [ "$(printf '%s\n%s\n' "$RUST_MIN" "$v" | sort -V | head -1)" = "$RUST_MIN" ]
}
if ! rust_ok; then
  if command -v rustup >/dev/null 2>&1; then
    say "updating the Rust toolchain (need >= $RUST_MIN)"
    rustup toolchain install stable --profile minimal >/dev/null
    rustup default stable >/dev/null
  fi
  rust_ok || { say "Rust >= $RUST_MIN is needed: install rustup (https://rustup.rs), then re-run"; exit 1; }
fi
# The test path checks formatting and lints (cargo fmt --check, cargo clippy).
if [ "$WITH_TEST_DEPS" -eq 1 ] && ! { cargo fmt --version && cargo clippy --version; } >/dev/null 2>&1; then
  command -v rustup >/dev/null 2>&1 || { say "cargo fmt and cargo clippy are needed: install rustfmt and clippy for your toolchain"; exit 1; }
  say "adding the rustfmt and clippy components"
  rustup component add rustfmt clippy >/dev/null
fi

# --- Python venv with the ONNX Runtime wheel ------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  python3 -m venv .venv
fi
have_version() { .venv/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('$1') != '$2')" 2>/dev/null; }
if ! have_version onnxruntime "$ORT_VERSION"; then
  say "installing onnxruntime==$ORT_VERSION into .venv"
  .venv/bin/pip install -q --no-cache-dir "onnxruntime==$ORT_VERSION"
fi
if [ "$WITH_TEST_DEPS" -eq 1 ]; then
  # Each pinned requirement checked by its installed version; pip only runs when one differs.
  if ! .venv/bin/python - models/requirements.txt <<'PY'
import importlib.metadata as m, re, sys
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, _, want = line.partition("==")
    try:
        have = m.version(name.strip())
    except m.PackageNotFoundError:
        sys.exit(1)
    if want and have.split("+")[0] != want.strip():
        sys.exit(1)
PY
  then
    say "installing models/requirements.txt into .venv (large: torch)"
    # --no-cache-dir: torch pulls ~4 GB of CUDA wheels; a cached second copy can fill a CI disk.
    .venv/bin/pip install -q --no-cache-dir -r models/requirements.txt
  fi
fi
say "ok"
