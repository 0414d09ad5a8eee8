#!/usr/bin/env bash
# The whole GPU measurement of the trainer issue in one call, on a machine with one NVIDIA GPU,
# torch and transformers (no network, no cargo needed there).
#
# Prepare here (a machine with cargo):   make gpu-bundle
#   → target/gpu/trainer (release, --features cuda, stripped), demo/seed1 (the sample build),
#     demo/lengths.txt (its sequence lengths in training order)
# Run there, from the repository root:   scripts/gpu-bench.sh [OUT_DIR]
#   (with the device tool: carry target/gpu/trainer and demo; OUT_DIR defaults to $OUT)
#
# Writes OUT_DIR/results.jsonl (one JSON line per measurement), OUT_DIR/agreement.txt (GPU vs
# CPU losses of the first 20 steps, GPU run-to-run), the GPU's name and each run's peak memory.
set -uo pipefail

OUT_DIR=${1:-${OUT:-gpu-results}}
TRAINER=${TRAINER:-target/gpu/trainer}
BUILD=${BUILD:-demo/seed1}
LENGTHS=${LENGTHS:-demo/lengths.txt}
PYTHON=${PYTHON:-python3}
STEPS=${STEPS:-3}
mkdir -p "$OUT_DIR"
RESULTS="$OUT_DIR/results.jsonl"
: > "$RESULTS"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT_DIR/gpu.csv"
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
# Dense peaks: TF32 tensor cores for f32 training, bf16 for the autocast reference.
case "$GPU" in
  *H100*PCIe*) PEAK_TF32=378; PEAK_BF16=756 ;;
  *H100*|*H200*) PEAK_TF32=494.7; PEAK_BF16=989.4 ;;
  *A100*) PEAK_TF32=156; PEAK_BF16=312 ;;
  *) PEAK_TF32=${PEAK_TF32:-0}; PEAK_BF16=${PEAK_BF16:-0} ;;
esac
echo "peaks used for MFU: TF32 $PEAK_TF32, BF16 $PEAK_BF16 TFLOP/s ($GPU)"

# Runs "$@" while sampling GPU memory; appends its JSON line with peak_gpu_memory_mib.
measure() {
  local tag=$1; shift
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$OUT_DIR/mem.$tag" &
  local sampler=$!
  local line
  line=$("$@" 2> "$OUT_DIR/err.$tag" | tail -1)
  local rc=$?
  kill $sampler 2> /dev/null; wait $sampler 2> /dev/null
  local peak
  peak=$(sort -n "$OUT_DIR/mem.$tag" | tail -1)
  if [ -n "$line" ] && [ "${line:0:1}" = "{" ]; then
    echo "${line%\}},\"tag\":\"$tag\",\"peak_gpu_memory_mib\":${peak:-null}}" | tee -a "$RESULTS"
    return 0
  fi
  echo "$tag: failed (rc $rc): $(tail -2 "$OUT_DIR/err.$tag")"
  return 1
}

# The largest micro-batch that fits, for each shape.
for shape in "seq 128" "seq 512" "build"; do
  for micro in 256 128 64 32 16 8; do
    case "$shape" in
      "seq "*) data=(--seq "${shape#seq }"); name="fixed${shape#seq }" ;;
      build) data=(--build "$BUILD"); name="real" ;;
    esac
    if measure "burn-$name-m$micro" "$TRAINER" bench --device cuda --config base \
        "${data[@]}" --micro-batch "$micro" --steps "$STEPS" --warmup 1 --peak-tflops "$PEAK_TF32"; then
      echo "$name $micro" >> "$OUT_DIR/micro-batches"
      break
    fi
  done
done

# PyTorch on the same shapes and micro-batches.
while read -r name micro; do
  case "$name" in
    fixed*) data=(--seq "${name#fixed}") ;;
    real) data=(--lengths "$LENGTHS") ;;
  esac
  for mode in eager tf32 compile-bf16; do
    peak=$PEAK_TF32; [ "$mode" = compile-bf16 ] && peak=$PEAK_BF16
    measure "torch-$mode-$name-m$micro" "$PYTHON" scripts/torch_bench.py --mode "$mode" \
      "${data[@]}" --micro-batch "$micro" --steps "$STEPS" --peak-tflops "$peak" || true
  done
done < "$OUT_DIR/micro-batches"

# Numerical agreement: the first 20 steps, GPU vs CPU, same build and init; GPU twice.
common=(run --seed 1 --build "$BUILD" --init random --config base --batch-size 32 --micro-batch 8
        --max-steps 20 --checkpoints 20 --lr 1e-4 --warmup 5 --quiet)
"$TRAINER" "${common[@]}" --device cuda --out "$OUT_DIR/gpu-a" > "$OUT_DIR/gpu-a.jsonl"
"$TRAINER" "${common[@]}" --device cuda --out "$OUT_DIR/gpu-b" > "$OUT_DIR/gpu-b.jsonl"
"$TRAINER" "${common[@]}" --device cpu --out "$OUT_DIR/cpu" > "$OUT_DIR/cpu.jsonl"
rm -rf "$OUT_DIR"/gpu-a/seed1/step* "$OUT_DIR"/gpu-b/seed1/step* "$OUT_DIR"/cpu/seed1/step*
"$PYTHON" - "$OUT_DIR" <<'PY' | tee "$OUT_DIR/agreement.txt"
import json, sys
d = sys.argv[1]
load = lambda n: [json.loads(l)["loss"] for l in open(f"{d}/{n}.jsonl")]
a, b, c = load("gpu-a"), load("gpu-b"), load("cpu")
rel = [abs(x - y) / abs(y) for x, y in zip(a, c)]
print(f"steps compared: {len(a)}")
print(f"GPU vs CPU loss: max relative difference {max(rel):.3e} (step {rel.index(max(rel)) + 1}), "
      f"step 1 {rel[0]:.3e}, step 20 {rel[-1]:.3e}")
same = sum(x == y for x, y in zip(a, b))
diff = max(abs(x - y) for x, y in zip(a, b))
print(f"GPU run to run: {same}/{len(a)} losses bit-identical, max |difference| {diff:.3e}")
PY
