#!/usr/bin/env bash
# Cross-builds the Jetson (aarch64) binary on an x86_64 Debian/Ubuntu host:
#   target/aarch64-unknown-linux-gnu/release/pixel-sail
# Installs what is missing, and nothing else, so a second run only checks and calls cargo (seconds):
#   host Debian packages gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user (qemu-aarch64 for the tests),
#   the rustup target aarch64-unknown-linux-gnu, and a sysroot under target/aarch64-sysroot made from Debian
#   bookworm's arm64 .debs (GStreamer -dev closure, libc, libstdc++).
# The sysroot is unpacked with a private apt state (target/aarch64-apt), not multiarch: bookworm's
# libgstreamer-plugins-base1.0-dev is not Multi-Arch, so installing its arm64 twin removes the host's copy.
# Bookworm (glibc 2.36, GStreamer 1.22) on purpose, whatever the host runs: the binary needs GLIBC_2.34,
# which JetPack 6 (Ubuntu 22.04, glibc 2.35) has.
# Cross settings are passed as environment variables, so the native build is untouched.
# Sources: Debian, crates.io and rustup only.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
[ $# -eq 0 ] || { echo "usage: scripts/build_aarch64.sh (no arguments)" >&2; exit 2; }
TRIPLE=aarch64-unknown-linux-gnu
SYSROOT="$ROOT/target/aarch64-sysroot"
APT_DIR="$ROOT/target/aarch64-apt"
# The arm64 packages the sysroot holds; apt adds their dependency closure (~170 .debs, ~85 MB).
SYSROOT_PACKAGES=(libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libc6-dev libstdc++6 libgcc-s1)
# Bump when SYSROOT_PACKAGES or the recipe below changes, so an old sysroot is rebuilt.
SYSROOT_STAMP="bookworm-1 ${SYSROOT_PACKAGES[*]}"

say() { echo "build_aarch64: $*" >&2; }
[ "$(uname -m)" = x86_64 ] || { say "this script cross-builds on x86_64; on an aarch64 machine run cargo build --release"; exit 1; }
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else SUDO="none"; fi

# --- host packages ---------------------------------------------------------------------------------
HOST_PACKAGES=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user pkg-config)
missing=()
for p in "${HOST_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$SUDO" = none ] && { say "missing packages: ${missing[*]}; run as root: apt-get install --no-install-recommends ${missing[*]}"; exit 1; }
  say "installing ${missing[*]}"
  # The lock timeout lets a concurrent apt run (another build on a shared machine) finish first.
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# --- sysroot from bookworm's arm64 .debs -------------------------------------------------------------
if [ "$(cat "$SYSROOT/.stamp" 2>/dev/null)" != "$SYSROOT_STAMP" ]; then
  say "making the arm64 sysroot in $SYSROOT"
  rm -rf "$SYSROOT" "$APT_DIR"
  mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/archives/partial" "$SYSROOT"
  : >"$APT_DIR/status" # empty: apt resolves the whole closure, and nothing of the host is touched
  KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -f "$KEYRING" ] || { say "$KEYRING missing: apt-get install debian-archive-keyring"; exit 1; }
  cat >"$APT_DIR/sources.list" <<EOF
deb [signed-by=$KEYRING] http://deb.debian.org/debian bookworm main
deb [signed-by=$KEYRING] http://deb.debian.org/debian bookworm-updates main
deb [signed-by=$KEYRING] http://deb.debian.org/debian-security bookworm-security main
EOF
  APT_OPTS=(-o APT::Architecture=arm64 -o APT::Architectures=arm64 -o Acquire::Languages=none
    -o Dir::State="$APT_DIR" -o Dir::State::Lists="$APT_DIR/lists" -o Dir::State::status="$APT_DIR/status"
    -o Dir::Cache="$APT_DIR" -o Dir::Cache::archives="$APT_DIR/archives" -o Debug::NoLocking=1
    -o Dir::Etc::SourceList="$APT_DIR/sources.list" -o Dir::Etc::SourceParts=/dev/null)
  apt-get "${APT_OPTS[@]}" update -qq
  apt-get "${APT_OPTS[@]}" install -qq -y --download-only --no-install-recommends "${SYSROOT_PACKAGES[@]}" >/dev/null
  for deb in "$APT_DIR"/archives/*.deb; do
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$SYSROOT" --exclude=./usr/share/doc --exclude=./usr/share/man \
      --exclude=./usr/share/locale
  done
  # Absolute links (libm.so -> /lib/aarch64-linux-gnu/libm.so.6) would point into the host: make them relative.
  while IFS= read -r link; do
    dest="$(readlink "$link")"
    ln -sfn "$(realpath -ms --relative-to="$(dirname "$link")" "$SYSROOT$dest")" "$link"
  done < <(find "$SYSROOT" -type l -lname '/*')
  # The aarch64 ONNX Runtime reads /proc/cpuinfo at start; qemu-user passes the host's x86 one through and ORT's
  # CPU detection then crashes. qemu's -L prefix serves this file instead: a Jetson Orin core (Cortex-A78AE).
  mkdir -p "$SYSROOT/proc"
  for cpu in 0 1; do
    printf 'processor\t: %s\nBogoMIPS\t: 62.50\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x1\nCPU part\t: 0xd42\nCPU revision\t: 1\n\n' "$cpu"
  done >"$SYSROOT/proc/cpuinfo"
  rm -rf "$APT_DIR/archives" "$APT_DIR/lists"
  echo "$SYSROOT_STAMP" >"$SYSROOT/.stamp"
  say "sysroot ready ($(du -sh "$SYSROOT" | cut -f1))"
fi

# --- Rust target and the build ---------------------------------------------------------------------
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
if ! rustup target list --installed 2>/dev/null | grep -qx "$TRIPLE"; then
  say "adding the rustup target $TRIPLE"
  rustup target add "$TRIPLE" >/dev/null
fi
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C link-arg=--sysroot=$SYSROOT"
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
# Target-suffixed, so the host's build scripts still find the host's libraries.
export PKG_CONFIG_SYSROOT_DIR_aarch64_unknown_linux_gnu="$SYSROOT"
export PKG_CONFIG_LIBDIR_aarch64_unknown_linux_gnu="$SYSROOT/usr/lib/aarch64-linux-gnu/pkgconfig:$SYSROOT/usr/share/pkgconfig"
say "cargo build --release --target $TRIPLE"
cargo build --release --locked --target "$TRIPLE" --bin pixel-sail
say "built target/$TRIPLE/release/pixel-sail"
