#!/usr/bin/env bash
# The GPU measurement of the trainer in ONE budgeted command, for a machine lent briefly
# (one GPU, a few minutes, nothing installable, no cargo).
#
# Prepare here (a machine with cargo):   make gpu-bundle
#   → target/gpu-bundle/: trainer (release, CUDA, stripped), lengths.txt (sequence
#     lengths of a realistic build); cubecl.toml and scripts/ are tracked files.
# Run there, from the repository root:   BUDGET_S=540 scripts/gpu-bench.sh [OUT_DIR]
#   (device tool: carry target/gpu-bundle; OUT_DIR defaults to $OUT). A caches archive of
#   an earlier window (copy it to target/gpu-bundle/caches.tar.gz) is unpacked first.
# Dry run, anywhere:                      DRY_RUN=1 BUDGET_S=30 scripts/gpu-bench.sh /tmp/dry
#   (fakes every GPU command; tests the control flow, the budget and what lands in OUT_DIR)
#
# Phases, in order of value; each runs under `timeout` with what is left of the budget, and
# the script stops STOP_MARGIN_S (60) before BUDGET_S whatever happens:
#   env      nvidia-smi, nvcc, CUDA headers, libnvrtc, libcuda, torch; sets CUDA_PATH and
#            LD_LIBRARY_PATH from what it finds
#   smoke    one tiny-model step on the GPU (kernel compilation included)
#   main     BERT-base, seq 128, the largest micro-batch a memory estimate allows (one retry
#            at half on failure)
#   torch    PyTorch at the same shape: TF32, IEEE f32 (eager), torch.compile + bf16
#   extra    seq 512; realistic lengths (burn and PyTorch TF32); GPU vs CPU loss on tiny;
#            kernel launches and host waits per step (scripts/count_launches.py)
# Files in OUT_DIR (at most 8): results.jsonl (one line per measurement, written as it
# comes), env.txt, log.txt (every command's stderr tail), caches.tar.gz (cubecl's kernel
# and autotune caches and the driver's PTX cache, repacked after each phase so a later
# window can carry them: they unpack into target/), summary.txt.
set -uo pipefail

OUT_DIR=${1:-${OUT:-gpu-results}}
BUDGET_S=${BUDGET_S:-540}
STOP_MARGIN_S=${STOP_MARGIN_S:-60}
DRY_RUN=${DRY_RUN:-0}
TRAINER=${TRAINER:-target/gpu-bundle/trainer}
LENGTHS=${LENGTHS:-target/gpu-bundle/lengths.txt}
PYTHON=${PYTHON:-python3}
CACHE_DIR=${CACHE_DIR:-target/cubecl}   # as cubecl.toml says
export TRAINER PYTHON DRY_RUN FAKE_STEP_S=${FAKE_STEP_S:-1} DRY_HANG=${DRY_HANG:-} DRY_MAX_MICRO=${DRY_MAX_MICRO:-100000}
export CUDA_CACHE_PATH=${CUDA_CACHE_PATH:-$PWD/target/cuda-cache}
export CUDA_CACHE_MAXSIZE=${CUDA_CACHE_MAXSIZE:-1073741824}

mkdir -p "$OUT_DIR" "$CACHE_DIR" "$CUDA_CACHE_PATH"
RESULTS=$OUT_DIR/results.jsonl
LOG=$OUT_DIR/log.txt
ENV_TXT=$OUT_DIR/env.txt
SUMMARY=$OUT_DIR/summary.txt
: > "$RESULTS"; : > "$LOG"; : > "$ENV_TXT"
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT

say() { echo "[gpu-bench ${SECONDS}s] $*" | tee -a "$LOG" >&2; }
left() { echo $((BUDGET_S - STOP_MARGIN_S - SECONDS)); }

# --- fakes for DRY_RUN=1: the same interface, no GPU ------------------------------------
if [ "$DRY_RUN" = 1 ]; then
  nvsmi() {
    case "$*" in
      *memory.used*) echo 1234 ;;
      *) echo "DRY RUN GPU, 143771, 143000, 580.00" ;;
    esac
  }
  gpu_trainer() {
    # `bench` prints a report; the phase named in DRY_HANG hangs (to test the budget);
    # micro-batches above DRY_MAX_MICRO fail (to test the retry).
    local micro=8 tag
    tag=$(printf '%s ' "$@")
    [[ "$tag" =~ --micro-batch\ ([0-9]+) ]] && micro=${BASH_REMATCH[1]}
    if [ -n "${DRY_HANG:-}" ] && [[ "$CURRENT_PHASE" == "$DRY_HANG" ]]; then sleep 100000; fi
    if [ "$micro" -gt "${DRY_MAX_MICRO:-100000}" ]; then
      echo "out of memory (dry run)" >&2; return 1
    fi
    sleep "$FAKE_STEP_S"
    echo "{\"config\":\"dry\",\"device\":\"$([[ "$tag" =~ cpu ]] && echo cpu || echo cuda:0)\",\"micro_batch\":$micro,\"first_step_s\":$FAKE_STEP_S,\"step_s\":0.5,\"last_loss\":10.5,\"tokens_per_s\":1000}"
  }
  gpu_python() { gpu_trainer "$@"; }
else
  nvsmi() { nvidia-smi "$@"; }
  gpu_trainer() { "$TRAINER" "$@"; }
  gpu_python() { "$PYTHON" "$@"; }
fi

# Appends a measurement (a JSON object on the command's last stdout line) with its phase,
# tag and peak GPU memory; a failure is recorded too. Returns the command's status.
CURRENT_PHASE=none
measure() {
  local tag=$1 limit=$2; shift 2
  local budget
  budget=$(left)
  [ "$limit" -gt "$budget" ] && limit=$budget
  if [ "$limit" -lt 10 ]; then
    say "$tag: skipped, ${budget}s of budget left"
    echo "{\"phase\":\"$CURRENT_PHASE\",\"tag\":\"$tag\",\"status\":\"skipped\"}" >> "$RESULTS"
    return 3
  fi
  say "$tag: $* (limit ${limit}s)"
  nvsmi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > "$SCRATCH/mem" 2>/dev/null &
  local sampler=$! started=$SECONDS
  # `timeout` sends TERM, then KILL 5 s later: a hung kernel cannot overrun the budget.
  timeout -k 5 "$limit" bash -c "$(declare -f gpu_trainer gpu_python nvsmi); CURRENT_PHASE=$CURRENT_PHASE; \"\$@\"" _ "$@" \
    > "$SCRATCH/out" 2> "$SCRATCH/err"
  local rc=$?
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
  local peak seconds=$((SECONDS - started)) line
  peak=$(sort -n "$SCRATCH/mem" 2>/dev/null | tail -1)
  line=$(grep '^{' "$SCRATCH/out" | tail -1)
  { echo "--- $tag (rc $rc, ${seconds}s)"; tail -5 "$SCRATCH/err"; } >> "$LOG"
  if [ "$rc" = 0 ] && [ -n "$line" ]; then
    echo "${line%\}},\"phase\":\"$CURRENT_PHASE\",\"tag\":\"$tag\",\"wall_s\":$seconds,\"peak_gpu_memory_mib\":${peak:-null}}" >> "$RESULTS"
    say "$tag: done in ${seconds}s"
    return 0
  fi
  local why
  why=$(tail -1 "$SCRATCH/err" | tr -d '"\\' | cut -c1-300)
  [ "$rc" = 124 ] || [ "$rc" = 137 ] && why="timed out after ${limit}s; $why"
  echo "{\"phase\":\"$CURRENT_PHASE\",\"tag\":\"$tag\",\"status\":\"failed\",\"rc\":$rc,\"wall_s\":$seconds,\"error\":\"$why\"}" >> "$RESULTS"
  say "$tag: FAILED (rc $rc): $why"
  return 1
}

# The caches, in one archive a later window can carry (target/gpu/caches.tar.gz).
pack_caches() {
  tar -czf "$SCRATCH/caches.tar.gz" -C "$(dirname "$CACHE_DIR")" "$(basename "$CACHE_DIR")" \
    -C "$(dirname "$CUDA_CACHE_PATH")" "$(basename "$CUDA_CACHE_PATH")" 2>/dev/null
  mv "$SCRATCH/caches.tar.gz" "$OUT_DIR/caches.tar.gz"
  say "caches packed: $(du -h "$OUT_DIR/caches.tar.gz" | cut -f1)"
}

phase() { CURRENT_PHASE=$1; say "== phase $1 ($(left)s left)"; }

# --- env --------------------------------------------------------------------------------
phase env
if [ -f target/gpu-bundle/caches.tar.gz ]; then
  tar -xzf target/gpu-bundle/caches.tar.gz -C target && say "unpacked the carried caches"
fi
first_dir_with() {  # first directory among $2.. that contains file $1
  local file=$1 d; shift
  for d in "$@"; do [ -e "$d/$file" ] && { echo "$d"; return 0; }; done
  return 1
}
{
  echo "gpu: $(nvsmi --query-gpu=name,memory.total,memory.free,driver_version --format=csv,noheader 2>&1 | head -1)"
  echo "nvcc: $(command -v nvcc >/dev/null && nvcc --version | tail -1 || echo none)"
  py_nvidia=$("$PYTHON" -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]) + "/nvidia")' 2>/dev/null || true)
  include=$(first_dir_with cuda.h ${CUDA_PATH:+$CUDA_PATH/include} /usr/local/cuda/include \
    /usr/local/cuda-*/include /usr/include /opt/cuda/include \
    ${py_nvidia:+$py_nvidia/cuda_runtime/include $py_nvidia/cu13/include $py_nvidia/cuda_nvcc/include} || true)
  echo "cuda.h: ${include:-not found}"
  nvrtc=$( (ldconfig -p 2>/dev/null | grep -o '/[^ ]*libnvrtc\.so[^ ]*' | head -1) ||
    true)
  [ -z "$nvrtc" ] && nvrtc=$(ls ${CUDA_PATH:+$CUDA_PATH/lib64/}libnvrtc.so* /usr/local/cuda*/lib64/libnvrtc.so* \
    ${py_nvidia:+$py_nvidia/*/lib/libnvrtc.so*} 2>/dev/null | head -1)
  echo "libnvrtc: ${nvrtc:-not found}"
  echo "libcuda: $( (ldconfig -p 2>/dev/null | grep -o '/[^ ]*libcuda\.so[^ ]*' | head -1) || echo 'not found')"
  echo "torch: $("$PYTHON" -c 'import torch, transformers; print(torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__)' 2>&1 | tail -1)"
  echo "trainer: $(ls -l "$TRAINER" 2>&1)"
  # cubecl compiles with NVRTC against the CUDA headers of CUDA_PATH (default /usr/local/cuda).
  [ -n "$include" ] && echo "export CUDA_PATH=$(dirname "$include")"
  [ -n "$nvrtc" ] && echo "export LD_LIBRARY_PATH=$(dirname "$nvrtc")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
} > "$ENV_TXT" 2>&1
# shellcheck disable=SC1090
source <(grep '^export ' "$ENV_TXT")
cat "$ENV_TXT" | tee -a "$LOG" >&2
GPU_FREE_MIB=$(nvsmi --query-gpu=memory.free --format=csv,noheader,nounits 2>/dev/null | head -1 | tr -dc 0-9)
[ "$DRY_RUN" = 1 ] && GPU_FREE_MIB=143000
GPU_NAME=$(nvsmi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
case "$GPU_NAME" in   # dense peaks: TF32 for f32 training, bf16 for the autocast reference
  *H100*PCIe*) PEAK_TF32=378; PEAK_BF16=756 ;;
  *H100*|*H200*) PEAK_TF32=494.7; PEAK_BF16=989.4 ;;
  *A100*) PEAK_TF32=156; PEAK_BF16=312 ;;
  *) PEAK_TF32=${PEAK_TF32:-0}; PEAK_BF16=${PEAK_BF16:-0} ;;
esac
say "GPU '$GPU_NAME', ${GPU_FREE_MIB:-?} MiB free, peaks TF32 $PEAK_TF32 / BF16 $PEAK_BF16 TFLOP/s"

# The largest power-of-two micro-batch (≤ 256) whose estimated activations fit in 60% of
# free memory: BERT-base keeps about 2 × (68·s·h + 10·a·s²) bytes per sequence and layer in
# f32 (×2 for burn's unfused intermediates), plus the decoder logits of 15% of positions.
micro_for() {
  local s=$1
  local per_seq=$(( 2 * 12 * (68 * s * 768 + 10 * 12 * s * s) + 3 * 4 * (s * 15 / 100) * 30522 ))
  local fit=$(( ${GPU_FREE_MIB:-16000} * 1048576 * 6 / 10 / per_seq )) m=256
  while [ "$m" -gt 1 ] && [ "$m" -gt "$fit" ]; do m=$((m / 2)); done
  echo "$m"
}

# --- smoke ------------------------------------------------------------------------------
phase smoke
measure burn-tiny-smoke 300 gpu_trainer bench --device cuda --config tiny --seq 128 \
  --batch-size 8 --micro-batch 8 --steps 2 --warmup 1
SMOKE=$?
pack_caches
if [ "$SMOKE" != 0 ]; then
  say "the smoke step failed: see log.txt and env.txt; the PyTorch phases run anyway"
fi

# --- main -------------------------------------------------------------------------------
phase main
MICRO=$(micro_for 128)
if [ "$SMOKE" = 0 ]; then
  if ! measure "burn-base-s128-m$MICRO" 300 gpu_trainer bench --device cuda --config base --seq 128 \
      --batch-size 256 --micro-batch "$MICRO" --steps 3 --warmup 1 --peak-tflops "$PEAK_TF32"; then
    MICRO=$((MICRO / 2))   # probed at most once
    measure "burn-base-s128-m$MICRO" 300 gpu_trainer bench --device cuda --config base --seq 128 \
      --batch-size 256 --micro-batch "$MICRO" --steps 3 --warmup 1 --peak-tflops "$PEAK_TF32"
  fi
  pack_caches
fi

# --- torch ------------------------------------------------------------------------------
phase torch
for mode in tf32 eager compile-bf16; do
  peak=$PEAK_TF32; [ "$mode" = compile-bf16 ] && peak=$PEAK_BF16
  measure "torch-$mode-s128-m$MICRO" 240 gpu_python scripts/torch_bench.py --device cuda --mode "$mode" \
    --seq 128 --batch-size 256 --micro-batch "$MICRO" --steps 3 --peak-tflops "$peak"
done

# --- extra ------------------------------------------------------------------------------
phase extra
if [ "$SMOKE" = 0 ]; then
  M512=$(micro_for 512)
  measure "burn-base-s512-m$M512" 240 gpu_trainer bench --device cuda --config base --seq 512 \
    --batch-size 256 --micro-batch "$M512" --steps 2 --warmup 1 --peak-tflops "$PEAK_TF32"
  pack_caches
  if [ -f "$LENGTHS" ]; then
    measure "burn-base-real-m$MICRO" 240 gpu_trainer bench --device cuda --config base \
      --lengths "$LENGTHS" --batch-size 256 --micro-batch "$MICRO" --steps 3 --warmup 1 \
      --peak-tflops "$PEAK_TF32"
    measure "torch-tf32-real-m$MICRO" 180 gpu_python scripts/torch_bench.py --device cuda --mode tf32 \
      --lengths "$LENGTHS" --batch-size 256 --micro-batch "$MICRO" --steps 3 --peak-tflops "$PEAK_TF32"
  fi
  # The same tiny training on both devices, from the same initialisation and data.
  tiny=(bench --config tiny --seq 128 --batch-size 16 --micro-batch 8 --steps 3 --warmup 0 --pad-multiple 1)
  measure agree-tiny-cuda 120 gpu_trainer "${tiny[@]}" --device cuda
  measure agree-tiny-cpu 120 gpu_trainer "${tiny[@]}" --device cpu
  # Kernel launches and host waits per BERT-base step (measured on lavapipe before any GPU:
  # docs/PERFORMANCE.md), here on CUDA.
  measure launches-base-s64 240 gpu_python scripts/count_launches.py --trainer "$TRAINER" \
    --device cuda --config base --seq 64 --micro-batch 1
  pack_caches
fi

# --- summary ----------------------------------------------------------------------------
phase summary
"$PYTHON" - "$RESULTS" > "$SUMMARY" 2>&1 <<'PY' || cp "$RESULTS" "$SUMMARY"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for r in rows:
    if r.get("status"):
        print(f"{r['tag']:28} {r['status']} {r.get('error', '')}")
    else:
        print(f"{r['tag']:28} step {r['step_s']:.3f} s, first step {r.get('first_step_s', 0):.1f} s, "
              f"{r.get('tokens_per_s', 0):,.0f} tokens/s, last loss {r.get('last_loss')}, "
              f"peak {r.get('peak_gpu_memory_mib')} MiB")
by = {r["tag"]: r for r in rows if not r.get("status")}
a, b = by.get("agree-tiny-cuda"), by.get("agree-tiny-cpu")
if a and b:
    print(f"tiny loss after 3 steps: GPU {a['last_loss']} vs CPU {b['last_loss']} "
          f"(relative difference {abs(a['last_loss'] - b['last_loss']) / abs(b['last_loss']):.2e})")
PY
cat "$SUMMARY" >&2
say "finished with $(left)s of the budget unused"
