#!/usr/bin/env bash
# One lease of a GPU machine, used whole: render a scene cache, then train side by side
#   main-a        the shipped checkpoint resumed on a fresh cosine: batch 64, lr 5e-4 (the CPU stretches' peak)
#   main-b        the same with batch 128, lr 8e-4 (a hedge: which of the two generalises better is measured
#                 afterwards on the test split and renderer b, and the better one is shipped)
#   abl-*         the model card's ablations on one schedule each (batch 24): the full model as the control,
#                 no upsampler (plain baseline), pooled visual prompts, no distillation
# and leave each run's weights (checkpoint minus optimiser state) and one log under $OUT.
# Every run ends, saved, DEADLINE seconds after the script starts however long the cache took (the device
# tool kills a command at 600 s, and the third session's lease lost its training to a slow render).
# Usage (repository root, python3 with torch/tokenizers/numpy/pillow):
#   OUT=/tmp/gpu_out DEADLINE=540 SCENES=12000 bash scripts/gpu_train.sh
# Needs models/checkpoints/expert.pt, and models/checkpoints/tiny.pt for the resumed runs.
set -u
START=$(date +%s)
OUT=${OUT:-/tmp/gpu_out}
DEADLINE=${DEADLINE:-540}
SCENES=${SCENES:-12000}
PY=${PY:-python3}
# in memory where there is /dev/shm: the lease's disk may be what made its render slow (the cache log says)
WORK=${WORK:-$( [ -d /dev/shm ] && echo /dev/shm/pixel_sail_gpu || echo /tmp/pixel_sail_gpu )}
# not `nproc`: it honours OMP_NUM_THREADS, which the GPU image sets to 1 (the first lease rendered the cache on
# one core: 503 s instead of ~30)
CORES=$($PY -c 'import os; print(len(os.sched_getaffinity(0)))')
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$WORK"
log="$OUT/train.log"

nvidia-smi -L 2>/dev/null || echo "no nvidia-smi: training on the CPU"
$PY -c "import torch, numpy, tokenizers; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(),
'numpy', numpy.__version__, 'tokenizers', tokenizers.__version__)" | tee -a "$log"

$PY -m models.pixel_sail.cache --n "$SCENES" --offset 100000 --workers "$CORES" --out "$WORK/cache/train" \
  || { echo "cache build failed" | tee -a "$log"; exit 1; }
echo "cache: $SCENES scenes in $(( $(date +%s) - START )) s on $CORES cores" | tee -a "$log"

# training minutes: what is left before the deadline, less ~45 s for start-up (imports, CUDA, loading) and saving
MINUTES=$($PY -c "print(round(max(0.5, ($START + $DEADLINE - $(date +%s) - 45) / 60), 2))")
echo "training $MINUTES min per run" | tee -a "$log"
main_workers=$(( (CORES - 8) / 2 )); [ "$main_workers" -lt 1 ] && main_workers=1
run() {  # name, then train arguments; killed 60 s past its budget if it has not exited by then
  local name=$1; shift
  timeout -k 10 "$($PY -c "print(int($MINUTES * 60 + 60))")" \
    $PY -m models.pixel_sail.train --cache "$WORK/cache/train" --ckpt "$WORK/$name.ckpt" \
    --weights-out "$OUT/$name.pt" --minutes "$MINUTES" --plan-minutes "$MINUTES" --total-steps 1000000 \
    --save-every 60 "$@" 2>&1 | sed -u "s/^/[$name] /" >> "$log" &
}
mains=""
if [ -f models/checkpoints/tiny.pt ]; then
  cp models/checkpoints/tiny.pt "$WORK/main-a.ckpt"
  cp models/checkpoints/tiny.pt "$WORK/main-b.ckpt"
  run main-a --restart-schedule --lr 5e-4 --batch 64 --workers "$main_workers" --threads 2 --seed 31
  run main-b --restart-schedule --lr 8e-4 --batch 128 --workers $(( main_workers + 1 )) --threads 2 --seed 32
  mains="main-a main-b"
fi
abl="--batch 24 --workers 0 --threads 1"
run abl-control $abl --seed 21
run abl-no-upsampler $abl --seed 22 --no-upsampler
run abl-vp-pool $abl --seed 23 --vp-pool
run abl-no-distill $abl --seed 24 --expert ''
for s in 40 120; do
  sleep "$s"
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /' | tee -a "$log"
  uptime | tee -a "$log"
done
wait
echo "all runs done $(( $(date +%s) - START )) s after the start" | tee -a "$log"
grep -E "saved step|Error|error|Traceback" "$log" | tail -20
for n in $mains abl-control abl-no-upsampler abl-vp-pool abl-no-distill; do
  grep "^\[$n\] step" "$log" | tail -1
done
ls -la "$OUT"
