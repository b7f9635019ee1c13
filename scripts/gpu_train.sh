#!/usr/bin/env bash
# One lease of a GPU machine, used whole: render a scene cache, then train
#   main          the local checkpoint (or the committed weights, import_onnx) on a fresh cosine: batch 128, lr LR (default 5e-4),
#                 stretch 16's prompt mix (--vp-rate 0.6 --describe-share 0.45), every spare core
#                 building batches (the 16-px model alone on an H200: 12.4 steps/s, ~250x the 2-core CPU's scenes/s;
#                 the 32-px one on an H100: 10 steps/s alone, 7 side by side with five other runs)
#   abl-*         with ABLATIONS=1, beside it: the model card's ablations on one schedule each (batch 24): the
#                 full model as the control, no upsampler (plain baseline), pooled visual prompts, no distillation
# and leave each run's weights (checkpoint minus optimiser state) and one log under $OUT. The machine stays
# warm after the command with the cache and checkpoints in $WORK: a second command can resume from them.
# Every run ends, saved, DEADLINE seconds after the script starts however long the cache took (the device
# tool kills a command at 600 s, and the third session's lease lost its training to a slow render); the render
# itself stops after RENDER_SECONDS and trains on the scenes done by then.
# Usage (repository root, python3 with torch/tokenizers/numpy/pillow):
#   OUT=/tmp/gpu_out DEADLINE=540 SCENES=16000 RENDER_SECONDS=120 [LR=5e-4 SEED_OFFSET=100000 ABLATIONS=1] \
#     bash scripts/gpu_train.sh
# (16 cores render ~230 scenes/s: RENDER_SECONDS=70 gives the 16,000)
# Resumes models/checkpoints/tiny.pt where there is one, otherwise starts from the committed models/tiny's
# weights (import_onnx.py); the ablations need models/checkpoints/expert.pt.
set -u -o pipefail
START=$(date +%s)
OUT=${OUT:-/tmp/gpu_out}
DEADLINE=${DEADLINE:-540}
SCENES=${SCENES:-16000}
RENDER_SECONDS=${RENDER_SECONDS:-120}
SEED_OFFSET=${SEED_OFFSET:-100000}  # the cache's first scene past the train seeds' start: a later lease can pick new ones
ABLATIONS=${ABLATIONS:-0}
PY=${PY:-python3}
LR=${LR:-5e-4}
# one BLAS thread per process: resize_rgb's matrix products in 16 render or batch processes, each with a thread
# per core, oversubscribed the 16 cores (this session's lease: 23 scenes/s, load 58, the GPU 42-66 % busy); the
# training process sets its own torch threads (--threads)
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
# in memory where there is /dev/shm: the runs read the cache memory-mapped from there
WORK=${WORK:-$( [ -d /dev/shm ] && echo /dev/shm/pixel_sail_gpu || echo /tmp/pixel_sail_gpu )}
# not `nproc`: it honours OMP_NUM_THREADS (set to 1 above; the third session's lease rendered on one process)
CORES=$($PY -c 'import os; print(len(os.sched_getaffinity(0)))')
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$WORK"
log="$OUT/train.log"

nvidia-smi -L 2>/dev/null || echo "no nvidia-smi: training on the CPU"
$PY -c "import torch, numpy, tokenizers; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(),
'numpy', numpy.__version__, 'tokenizers', tokenizers.__version__)" | tee -a "$log"

# what the render has to work with (the seventh lease's 16 processes rendered at one core's pace)
echo "cpus: affinity $CORES, nproc $(nproc), cgroup cpu.max $(cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo -)" \
  | tee -a "$log"
$PY -m models.pixel_sail.cache --n "$SCENES" --offset "$SEED_OFFSET" --workers "$CORES" --max-seconds "$RENDER_SECONDS" \
  --out "$WORK/cache/train" 2>&1 \
  | tee -a "$log" || { echo "cache build failed" | tee -a "$log"; exit 1; }
echo "cache ready $(( $(date +%s) - START )) s after the start" | tee -a "$log"

# training minutes: what is left before the deadline, less ~45 s for start-up (imports, CUDA, loading) and saving
MINUTES=$($PY -c "print(round(max(0.5, ($START + $DEADLINE - $(date +%s) - 45) / 60), 2))")
echo "training $MINUTES min per run" | tee -a "$log"
# batch workers for the main run: every core but its own and the ablations' (each builds batches in its loop)
main_workers=$(( CORES - 2 - (ABLATIONS == 1 ? 4 : 0) )); [ "$main_workers" -lt 1 ] && main_workers=1
run() {  # name, then train arguments; killed 60 s past its budget if it has not exited by then
  local name=$1; shift
  timeout -k 10 "$($PY -c "print(int($MINUTES * 60 + 60))")" \
    $PY -m models.pixel_sail.train --cache "$WORK/cache/train" --ckpt "$WORK/$name.ckpt" \
    --weights-out "$OUT/$name.pt" --minutes "$MINUTES" --plan-minutes "$MINUTES" --total-steps 1000000 \
    --save-every 60 "$@" 2>&1 | sed -u "s/^/[$name] /" >> "$log" &
  pids+=($!)
}
pids=()
runs=""
main_args=(--lr "$LR" --batch 128 --workers "$main_workers" --threads 2 --seed 31 --vp-rate 0.6 --describe-share 0.45)
if [ -f models/checkpoints/tiny.pt ]; then
  cp models/checkpoints/tiny.pt "$WORK/main.ckpt"
  run main --restart-schedule "${main_args[@]}"
  runs="main"
elif $PY -m models.pixel_sail.import_onnx --model models/tiny --out "$WORK/shipped_w.pt" 2>&1 | grep -v Warn | tail -1 \
    | tee -a "$log" | grep -q "bit-exactly"; then
  # a fresh clone: the committed model's own weights (import_onnx.py), a new optimiser and warm-up
  expert=(); [ -f models/checkpoints/expert.pt ] || expert=(--expert '')
  run main --init-weights "$WORK/shipped_w.pt" "${expert[@]}" "${main_args[@]}"
  runs="main"
fi
if [ "$ABLATIONS" = 1 ]; then
  abl="--batch 24 --workers 0 --threads 1"
  run abl-control $abl --seed 21
  run abl-no-upsampler $abl --seed 22 --no-upsampler
  run abl-vp-pool $abl --seed 23 --vp-pool
  run abl-no-distill $abl --seed 24 --expert ''
  runs="$runs abl-control abl-no-upsampler abl-vp-pool abl-no-distill"
fi
# a look at the load while the runs train, given up as soon as they end (a run that fails at once frees the lease)
for s in 40 120; do
  sleep "$s"
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /' | tee -a "$log"
  uptime | tee -a "$log"
done &
monitor=$!
wait "${pids[@]}"
pkill -P "$monitor" 2>/dev/null; kill "$monitor" 2>/dev/null  # its sleep too: it holds the output open
echo "all runs done $(( $(date +%s) - START )) s after the start" | tee -a "$log"
grep -E "saved step|Error|error|Traceback" "$log" | tail -20
for n in $runs; do
  grep "^\[$n\] step" "$log" | tail -1
done
ls -la "$OUT"
