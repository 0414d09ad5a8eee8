#!/bin/bash
# Submits training to Slurm: one task of train.sbatch per seed, each asking for one GPU, its
# log in $LOGS/earlyberts-train-seedN.out (appended to across restarts). Run it on a login
# node, from any directory, after `make data` built the seeds' data there; a seed whose build
# is missing is refused here, before anything is queued, and one that does not verify is
# refused by its task (the trainer verifies every build it trains on).
#
#   scripts/slurm/submit-train.sh [SBATCH OPTIONS]
#   SEEDS=0,3 scripts/slurm/submit-train.sh --time=2-00:00:00 --partition=gpu
#   DEVICE=cpu SEEDS=1 scripts/slurm/submit-train.sh     # no GPU requested
#
# A seed submitted again resumes from its newest saved state (scripts/train-seed.sh).
#
# Environment: SEEDS [0-4] (an array range or list), GRES [gpu:1; none with DEVICE=cpu],
# TRAINER, DATA, RECIPE, CORPUS, RUNS, DEVICE, INIT_FLAGS, TRAIN_FLAGS and LOGS, with their
# defaults in scripts/slurm/defaults.sh, relative paths taken from the current directory.
# Slurm's own variables (SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_TIMELIMIT, …) apply.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EARLYBERTS=$(cd "$here/../.." && pwd)
absolute() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

# DATA first: the defaults of the builds and LOGS lie under it.
[ -z "${DATA:-}" ] || DATA=$(absolute "$DATA")
[ -z "${RUNS:-}" ] || RUNS=$(absolute "$RUNS")
# shellcheck source=scripts/slurm/defaults.sh
source "$here/defaults.sh"
for name in TRAINER RECIPE LOGS; do
  printf -v "$name" '%s' "$(absolute "${!name}")"
done
export EARLYBERTS TRAINER DATA RECIPE CORPUS RUNS DEVICE INIT_FLAGS TRAIN_FLAGS

[ -x "$TRAINER" ] || {
  echo "submit-train.sh: no trainer binary at '$TRAINER': build it first (cargo build --release --bin trainer --features cuda) or set TRAINER" >&2
  exit 2
}
# Every seed of SEEDS, Slurm's array syntax (0-4, 0,3, 1-2,4, 0-4:2, 0-4%2), must have its
# build.
seeds=()
IFS=, read -ra parts <<<"${SEEDS%\%*}"
for part in "${parts[@]}"; do
  if [[ $part =~ ^([0-9]+)-([0-9]+)(:([0-9]+))?$ ]]; then
    mapfile -t -O "${#seeds[@]}" seeds < <(seq "${BASH_REMATCH[1]}" "${BASH_REMATCH[4]:-1}" "${BASH_REMATCH[2]}")
  elif [[ $part =~ ^[0-9]+$ ]]; then
    seeds+=("$part")
  else
    echo "submit-train.sh: SEEDS='$SEEDS' is not an array of seeds (like 0-4, 0,3 or 1-2,4)" >&2
    exit 2
  fi
done
for seed in "${seeds[@]}"; do
  build=$DATA/builds/$CORPUS-$(basename "$RECIPE" .toml)-seed$seed
  [ -f "$build/manifest.json" ] || {
    echo "submit-train.sh: seed $seed has no build at '$build': make it first (make data SEEDS=$seed), or set DATA, RECIPE, CORPUS" >&2
    exit 2
  }
done
mkdir -p "$LOGS" "$RUNS"

job=$(sbatch --parsable --array="$SEEDS" ${GRES:+--gres="$GRES"} --output="$LOGS/%x-seed%a.out" \
  "$@" "$here/train.sbatch")
job=${job%%;*}
echo "training: job $job (array $SEEDS: one task a seed${GRES:+, $GRES each}${DEVICE:+, --device $DEVICE})"
echo "logs: $LOGS/<job name>-seedN.out; runs: $RUNS/seedN"
