#!/bin/bash
# One seed's training run, started or resumed: the one way `make train` and Slurm's
# train.sbatch run the trainer. With a saved state under $RUNS/seedN (a checkpoint with its
# trainer_state.json) it resumes from the newest (`trainer run --resume`, which drops the
# log's lines past it: no step is logged twice); without one it starts the run. The build is
# the one `make data` made for the seed, and the trainer refuses it, in one line, unless it
# verifies (exit status 2).
#
#   scripts/train-seed.sh SEED
#
# Exit status: the trainer's (0 done, 2 an error, 130 stopped by a signal after saving).
# Environment: TRAINER, DATA, RECIPE, CORPUS, RUNS, DEVICE, INIT_FLAGS and TRAIN_FLAGS, with
# their defaults in scripts/slurm/defaults.sh; relative paths from the current directory.
set -euo pipefail
seed=${1:?usage: scripts/train-seed.sh SEED}
EARLYBERTS=${EARLYBERTS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
# shellcheck source=scripts/slurm/defaults.sh
source "$EARLYBERTS/scripts/slurm/defaults.sh"

build=$DATA/builds/$CORPUS-$(basename "$RECIPE" .toml)-seed$seed
run=$RUNS/seed$seed
if [ ! -f "$build/manifest.json" ]; then
  echo "train-seed.sh: seed $seed has no build at '$build': make it first (make data SEEDS=$seed), or set DATA, RECIPE, CORPUS" >&2
  exit 2
fi
# A saved state: a complete checkpoint, `stepK/` (not a `stepK.tmp/` being written) with its
# weights and trainer_state.json, as the trainer finds them.
saved=0
for dir in "$run"/step*; do
  [[ ${dir##*/} =~ ^step[0-9]+$ ]] && [ -f "$dir/trainer_state.json" ] &&
    [ -f "$dir/model.safetensors" ] && saved=1
done
set -f # the flag variables hold several flags, split on spaces and never globbed
# shellcheck disable=SC2086
if [ "$saved" = 1 ]; then
  echo "train-seed.sh: seed $seed resumes from its newest checkpoint in '$run'"
  exec "$TRAINER" run --resume "$run" --build "$build" ${DEVICE:+--device "$DEVICE"} --quiet \
    $TRAIN_FLAGS
else
  echo "train-seed.sh: seed $seed starts in '$run'"
  exec "$TRAINER" run --seed "$seed" --data "$DATA" --build "$build" --out "$RUNS" \
    ${DEVICE:+--device "$DEVICE"} --quiet $INIT_FLAGS $TRAIN_FLAGS
fi
