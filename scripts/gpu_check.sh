#!/usr/bin/env bash
# The whole GPU check in one run, one result file (Markdown, path printed at the end):
#   a. parity against the CPU fixtures on --ep cuda, tensorrt FP32 and tensorrt FP16 (`pixel-sail parity`);
#   b. the TensorRT engine cache: first start builds and announces each engine, second start loads them (both
#      start-up times), a changed shape range or ONNX file builds anew (`pixel-sail build-engines`);
#   c. the benchmark at 640x480: one and four commands, description tokens/s, the model alone and as
#      published, GPU memory (`pixel-sail bench`, nvidia-smi), on models/tiny and on --model DIR if given;
#   d. parity with ONNX Runtime 1.19.2 (the oldest PyPI wheel holding libonnxruntime.so) on CPU.
# GPU mode installs the pinned GPU build of ONNX Runtime and TensorRT from PyPI into its own venv.
# `--ep cpu` (or `--dry-run`) runs the same steps on a CPU-only machine with the project's .venv (the pinned
# CPU wheel), skipping only what needs a GPU, and says which; scripts/test.sh runs it so this cannot rot.
#
# usage: scripts/gpu_check.sh [--ep cpu | --dry-run] [--bin PATH] [--model DIR] [--out FILE] [--iters N]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

# Pins (README "Jetson and GPUs"): onnxruntime-gpu 1.31.1 is built for CUDA 13 and links libnvinfer.so.10.
ORT_GPU_VERSION="${ORT_GPU_VERSION:-1.31.1}"
TENSORRT_VERSION="${TENSORRT_VERSION:-10.16.1.11}"

MODE=gpu BIN="" MODEL="" OUT="" ITERS=""
while [ $# -gt 0 ]; do
    case "$1" in
        --ep) [ "${2:-}" = cpu ] || { echo "gpu_check: --ep takes only 'cpu' (the GPU run checks cuda and tensorrt)" >&2; exit 2; }; MODE=cpu; shift 2 ;;
        --dry-run) MODE=cpu; shift ;;
        --bin) BIN="$2"; shift 2 ;;
        --model) MODEL="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --iters) ITERS="$2"; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "gpu_check: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
WORK="$ROOT/target/gpu_check/$MODE"
OUT="${OUT:-$WORK/result.md}"
rm -rf "$WORK/cache" "$WORK/cache-starts" "$WORK/models" && mkdir -p "$WORK" "$(dirname "$OUT")"
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
T0=$SECONDS
FAILED=()
: >"$OUT"
md() { printf '%s\n' "$@" >>"$OUT"; }
fail() { FAILED+=("$1"); } # listed under Summary
# Every pixel-sail run is bounded: a hung engine build must not hold a rented GPU.
px() { timeout "${STEP_TIMEOUT:-300}" "$BIN" "$@"; }
skip() { md "" "_skipped on a CPU-only machine (GPU only): $1_"; }

md "# pixel-sail GPU check ($MODE)" "" "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -m), $(nproc) cores"

# --- the runtime: pinned GPU wheels in their own venv, or the project's CPU venv ---
if [ "$MODE" = gpu ]; then
    command -v nvidia-smi >/dev/null || { echo "gpu_check: no nvidia-smi: use --ep cpu for the dry run" >&2; exit 2; }
    GPU_NAME="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)"
    VENV="$WORK/venv"
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    echo "== installing onnxruntime-gpu==$ORT_GPU_VERSION and tensorrt-cu13==$TENSORRT_VERSION into $VENV" >&2
    "$VENV/bin/pip" install -q "onnxruntime-gpu[cuda,cudnn]==$ORT_GPU_VERSION" "tensorrt-cu13==$TENSORRT_VERSION"
    SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    # The CUDA, cuDNN and TensorRT libraries the wheels ship, for the providers' dlopen.
    # Found by file name, not folder: the TensorRT libs wheel's package folder differs across CUDA majors.
    LIBDIRS="$(find "$SITE" \( -name 'libnvinfer*.so*' -o -name 'libnvonnxparser*.so*' -o -path '*/nvidia/*/lib/*.so*' \
        -o -path '*/onnxruntime/capi/*.so*' \) -printf '%h\n' 2>/dev/null | sort -u | paste -sd:)"
    [ -n "$(find "$SITE" -name 'libnvinfer.so*' -print -quit)" ] \
        || echo "gpu_check: warning: no libnvinfer.so* under $SITE: the TensorRT steps will fail" >&2
    export LD_LIBRARY_PATH="$LIBDIRS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    EPS=(cuda tensorrt-fp32 tensorrt-fp16)
else
    GPU_NAME="none (dry run)"
    VENV="$ROOT/.venv"
    ls "$VENV"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* >/dev/null 2>&1 || scripts/setup.sh >/dev/null
    SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    EPS=(cpu)
fi
ORT_LIB="$(ls "$SITE"/onnxruntime/capi/libonnxruntime.so.* | sort -V | tail -1)"
md "" "- GPU: $GPU_NAME" "- ONNX Runtime: \`$ORT_LIB\`"
if [ "$MODE" = gpu ]; then
    md "- wheels: $("$VENV/bin/pip" freeze | grep -Ei '^(onnxruntime|tensorrt|nvidia-(cudnn|cublas|cuda-runtime))' | paste -sd' ')"
    for p in cuda tensorrt; do
        missing="$(ldd "$SITE/onnxruntime/capi/libonnxruntime_providers_$p.so" | grep 'not found' || true)"
        md "- providers_$p: ${missing:-all libraries found}"
    done
fi

# --- the binary ---
if [ -z "$BIN" ]; then
    echo "== cargo build --release" >&2
    cargo build --release --quiet
    BIN="$ROOT/target/release/pixel-sail"
fi
md "- binary: \`$BIN\` ($("$BIN" --version))" ""
export ORT_DYLIB_PATH="$ORT_LIB"
CACHE="$WORK/cache"

ep_args() { # provider label -> pixel-sail flags
    case "$1" in
        cpu) echo "--ep cpu" ;;
        cuda) echo "--ep cuda" ;;
        tensorrt-fp32) echo "--ep tensorrt --trt-fp32 --trt-cache $CACHE" ;;
        tensorrt-fp16) echo "--ep tensorrt --trt-cache $CACHE" ;;
    esac
}

# --- a. parity ---
md "## a. Parity with the CPU fixtures (tests/fixtures/parity)" "" \
   "| provider | precision | checks passed | lowest mask IoU | descriptions differing | result |" "|---|---|---|---|---|---|"
for ep in "${EPS[@]}"; do
    # shellcheck disable=SC2046
    if px parity $(ep_args "$ep") --model models/tiny --json >"$WORK/parity-$ep.json" 2>"$WORK/parity-$ep.log"; then r=pass; else r=FAIL; fi
    row="$("$VENV/bin/python" - "$WORK/parity-$ep.json" <<'EOF'
import json, sys
try:
    p = json.load(open(sys.argv[1]))
    print(f"{p['provider']} | {p['precision']} | {p['checks_total'] - p['checks_failed']} of {p['checks_total']} | {p['min_mask_iou']:.4f} | {p['words_differ']}")
except Exception as e:
    print(f"? | ? | no report ({type(e).__name__}) | | ")
EOF
)"
    md "| $row | $r |"
    [ "$r" = pass ] || fail "parity on $ep (see $WORK/parity-$ep.log)"
done
if [ "$MODE" = cpu ]; then skip "parity on cuda and tensorrt (FP32 and FP16)"; fi
if [ "$MODE" = gpu ]; then
    md "" "FP16 words (stated, not required to match):" '```'
    "$VENV/bin/python" -c 'import json,sys; [print(c["what"] + ": " + c["detail"]) for c in json.load(open(sys.argv[1]))["checks"] if c["detail"].startswith("ours \"")]' \
        "$WORK/parity-tensorrt-fp16.json" >>"$OUT" 2>/dev/null || true
    md '```'
fi

# --- b. the engine cache ---
md "" "## b. Engine cache and start-up times (\`pixel-sail build-engines\`)" ""
START_CACHE="$WORK/cache-starts" # not the parity runs' cache, which already holds the FP16 engines
start() { # label model -> one table row; the announce lines go to the log
    local label="$1" model="$2" ep
    ep="$([ "$MODE" = gpu ] && echo "--ep tensorrt --trt-cache $START_CACHE" || echo "--ep cpu")"
    # shellcheck disable=SC2086
    if px build-engines $ep --model "$model" --json >"$WORK/start-$label.json" 2>"$WORK/start-$label.log"; then
        "$VENV/bin/python" -c 'import json,sys; s=json.load(open(sys.argv[1])); print(sys.argv[2], s["engines_built"], " ".join(g["graph"]+":"+g["action"] for g in s["graphs"]), round(s["total_secs"],2), sep="|")' \
            "$WORK/start-$label.json" "$label"
    else
        echo "$label|error: $( (grep -m1 '^error' "$WORK/start-$label.log" || tail -1 "$WORK/start-$label.log") | sed 's/\x1b\[[0-9;]*m//g')||"
    fi
}
expect() { # row want_built
    local built; built="$(echo "$1" | cut -d'|' -f2)"
    md "| $1 |"
    [ "$built" = "$2" ] || fail "engine cache: $(echo "$1" | cut -d'|' -f1) built ${built:-nothing}, expected $2"
}
md "| start | engines built | graphs | start-up (s) |" "|---|---|---|---|"
if [ "$MODE" = gpu ]; then
    expect "$(start first models/tiny)" 3
    expect "$(start second models/tiny)" 0
    mkdir -p "$WORK/models" && cp -r models/tiny "$WORK/models/shape" && cp -r models/tiny "$WORK/models/onnx"
    # A wider text batch range: only text.onnx's key changes.
    "$VENV/bin/python" - "$WORK/models/shape/model.json" <<'EOF'
import json, sys
p = sys.argv[1]; m = json.load(open(p))
m["shapes"]["text.input_ids"]["opt"][0] = 2
json.dump(m, open(p, "w"), indent=1)
EOF
    expect "$(start shape-range "$WORK/models/shape")" 1
    # Another ONNX file with the same graph: a protobuf doc_string field (6) appended to mask_head.onnx.
    printf '\x32\x0bgpu_check_2' >>"$WORK/models/onnx/mask_head.onnx"
    expect "$(start onnx-file "$WORK/models/onnx")" 1
    md "" "Announced while building (first start):" '```'
    grep -h "TensorRT engine" "$WORK/start-first.log" | sed 's/\x1b\[[0-9;]*m//g' >>"$OUT" || true
    md '```' "" "EP-context models saved: $(find "$START_CACHE" -name '*_ctx.onnx' | wc -l) (cache \`$START_CACHE\`, $(du -sh "$START_CACHE" | cut -f1))"
else
    expect "$(start first models/tiny)" 0
    expect "$(start second models/tiny)" 0
    skip "TensorRT engine build, cached-engine load, rebuild on a changed shape range or ONNX file, EP-context models"
fi

# --- c. the benchmark ---
md "" "## c. Benchmark at 640x480 (tests/fixtures/tabletop_640x480.jpg)" ""
BENCH_EP="$([ "$MODE" = gpu ] && echo "--ep tensorrt --trt-cache $CACHE" || echo "--ep cpu")"
ITERS="${ITERS:-$([ "$MODE" = gpu ] && echo 50 || echo 2)}"
bench_model() { # name dir
    local name="$1" dir="$2" peak="$WORK/gpu-mem-$1.txt" smi=""
    if [ "$MODE" = gpu ]; then
        nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"$peak" &
        smi=$!
    fi
    md "### $name on $([ "$MODE" = gpu ] && echo tensorrt || echo cpu): the model alone (\`pixel-sail bench\`)" '```'
    # shellcheck disable=SC2086
    px bench $BENCH_EP --model "$dir" --no-python --iters "$ITERS" >>"$OUT" 2>"$WORK/bench-$name.log" || fail "bench on $name"
    md '```' "### $name: as published (\`pixel-sail bench --pipeline\`, throughput)" '```'
    local frames; frames="$([ "$MODE" = gpu ] && echo 60 || echo 4)"
    # shellcheck disable=SC2086
    px bench $BENCH_EP --model "$dir" --pipeline --sections throughput --frames "$frames" --rounds 1 >>"$OUT" 2>>"$WORK/bench-$name.log" \
        || fail "pipeline bench on $name"
    md '```'
    if [ -n "$smi" ]; then
        kill "$smi" 2>/dev/null || true
        wait "$smi" 2>/dev/null || true
        md "GPU memory, peak during the $name runs: $(sort -n "$peak" | tail -1) MiB"
    else
        skip "GPU memory (nvidia-smi)"
    fi
}
bench_model tiny models/tiny
if [ -n "$MODEL" ]; then bench_model "$(basename "$MODEL")" "$MODEL"; fi

# --- d. the oldest ONNX Runtime PyPI ships as a library (the JetPack 6.1/6.2 range), on CPU ---
OLD_ORT=1.19.2
md "" "## d. ONNX Runtime $OLD_ORT (the oldest PyPI wheel with libonnxruntime.so), CPU provider" ""
OLD_DIR="$ROOT/target/gpu_check/ort-$OLD_ORT"
if [ ! -f "$OLD_DIR/onnxruntime/capi/libonnxruntime.so.$OLD_ORT" ]; then
    "$VENV/bin/pip" download -q --no-deps "onnxruntime==$OLD_ORT" --only-binary=:all: --python-version 3.11 \
        --platform "manylinux_2_27_$(uname -m)" -d "$OLD_DIR" \
        && (cd "$OLD_DIR" && "$VENV/bin/python" -m zipfile -e onnxruntime-"$OLD_ORT"-*.whl .) >/dev/null || true
fi
if ORT_DYLIB_PATH="$OLD_DIR/onnxruntime/capi/libonnxruntime.so.$OLD_ORT" \
    px parity --ep cpu --model models/tiny >"$WORK/parity-ort-$OLD_ORT.txt" 2>&1; then
    md "$(tail -1 "$WORK/parity-ort-$OLD_ORT.txt")"
else
    md "$(tail -1 "$WORK/parity-ort-$OLD_ORT.txt")"
    fail "parity with ONNX Runtime $OLD_ORT"
fi

md "" "## Summary" "" "took $((SECONDS - T0)) s; ${#FAILED[@]} failed step(s)" ""
for f in "${FAILED[@]}"; do md "- FAILED: $f"; done
echo "gpu_check: result in $OUT" >&2
[ ${#FAILED[@]} -eq 0 ]
