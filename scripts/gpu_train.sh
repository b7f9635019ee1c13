#!/usr/bin/env bash
# One lease of a GPU machine, used whole: render a scene cache, then train side by side
#   main-resume   the shipped checkpoint, resumed on a fresh cosine (batch 64)
#   main-p16      from scratch with 16-px patches (4x the image tokens): the shipped model's descriptions miss
#                 shape (visual-prompt shape right 38 % of the time, colour 97 %), which 32-px patches into a
#                 192-wide linear layer may not carry (batch 64)
#   abl-*         the model card's ablations on one short schedule each (batch 24): the full model as the
#                 control, no upsampler (plain baseline), pooled visual prompts, no distillation
# and leave each run's weights (checkpoint minus optimiser state) and one log under $OUT.
# Usage (repository root, python3 with torch/tokenizers/numpy/pillow):
#   OUT=/tmp/gpu_out MINUTES=7 SCENES=16000 bash scripts/gpu_train.sh
# Needs models/checkpoints/expert.pt, and models/checkpoints/tiny.pt for the resumed run.
set -u
OUT=${OUT:-/tmp/gpu_out}
MINUTES=${MINUTES:-7}
SCENES=${SCENES:-16000}
PY=${PY:-python3}
WORK=${WORK:-/tmp/pixel_sail_gpu}
# not `nproc`: it honours OMP_NUM_THREADS, which the GPU image sets to 1 (the first lease rendered the cache on
# one core: 503 s instead of ~30)
CORES=$($PY -c 'import os; print(len(os.sched_getaffinity(0)))')
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$WORK"
log="$OUT/train.log"

nvidia-smi -L 2>/dev/null || echo "no nvidia-smi: training on the CPU"
$PY -c "import torch, numpy, tokenizers; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(),
'numpy', numpy.__version__, 'tokenizers', tokenizers.__version__)" | tee -a "$log"

t0=$(date +%s)
$PY -m models.pixel_sail.cache --n "$SCENES" --offset 100000 --workers "$CORES" --out "$WORK/cache/train" \
  || { echo "cache build failed" | tee -a "$log"; exit 1; }
echo "cache: $SCENES scenes in $(( $(date +%s) - t0 )) s" | tee -a "$log"

# workers per run: the two main runs share most cores; each ablation builds its batches in its own loop
main_workers=$(( (CORES - 6) / 2 )); [ "$main_workers" -lt 1 ] && main_workers=1
run() {  # name, then train arguments
  local name=$1; shift
  $PY -m models.pixel_sail.train --cache "$WORK/cache/train" --ckpt "$WORK/$name.ckpt" \
    --weights-out "$OUT/$name.pt" --minutes "$MINUTES" --plan-minutes "$MINUTES" --total-steps 1000000 \
    --save-every 60 "$@" 2>&1 | sed -u "s/^/[$name] /" >> "$log" &
}
if [ -f models/checkpoints/tiny.pt ]; then
  cp models/checkpoints/tiny.pt "$WORK/main-resume.ckpt"
  run main-resume --restart-schedule --lr 1e-3 --batch 64 --workers "$main_workers" --threads 2 --seed 11
fi
run main-p16 --patch 16 --batch 64 --workers "$main_workers" --threads 2 --seed 12
abl="--batch 24 --workers 0 --threads 1"
run abl-control $abl --seed 21
run abl-no-upsampler $abl --seed 22 --no-upsampler
run abl-vp-pool $abl --seed 23 --vp-pool
run abl-no-distill $abl --seed 24 --expert ''
sleep 30
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv 2>/dev/null | tee -a "$log"
wait
echo "all runs done after $(( $(date +%s) - t0 )) s" | tee -a "$log"
grep -E "saved step|Error|error" "$log" | tail -20
for n in main-resume main-p16 abl-control abl-no-upsampler abl-vp-pool abl-no-distill; do
  grep "^\[$n\] step" "$log" | tail -1
done
ls -la "$OUT"
