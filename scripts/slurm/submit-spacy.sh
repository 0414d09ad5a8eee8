#!/bin/bash
# Submits the reference recipe's spaCy stage to Slurm: the parts as a job array of
# prepare-spacy.sbatch, then the assembly, which runs once every part has ended (failed or
# not) and says which parts are missing, if any. Run it on a login node, from any directory,
# after `make fetch` there (it builds the binary and fetches the sources). Then `make data`
# builds the seeds on the assembled store, with no spaCy flags.
#
#   scripts/slurm/submit-spacy.sh [SBATCH OPTIONS, FOR BOTH JOBS]
#   PARTS=16 scripts/slurm/submit-spacy.sh --cpus-per-task=32 --time=04:00:00
#   ARRAY=3,5 PARTS=16 scripts/slurm/submit-spacy.sh    # re-run parts 3 and 5, assemble again
#
# Re-run parts with the same variables as the first submission (SPACY_FLAGS included: the
# store records the model, not where Python is).
#
# Environment: PARTS [8]; ARRAY, the array indices to run [0-(PARTS-1)]; PIPELINE, RECIPE,
# DATA, STORE, WIKI, BOOKS, SPACY_FLAGS, RETRIES and LOGS (where the jobs' logs go), whose
# defaults are set in scripts/slurm/defaults.sh (the sbatch script's too), relative paths
# taken from the current directory. Slurm's own variables (SBATCH_PARTITION,
# SBATCH_ACCOUNT, SBATCH_TIMELIMIT, …) apply to both jobs.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EARLYBERTS=$(cd "$here/../.." && pwd)
absolute() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

PARTS=${PARTS:-8}
ARRAY=${ARRAY:-0-$((PARTS - 1))}
# DATA first: the defaults of STORE, WIKI, BOOKS and LOGS lie under it.
[ -z "${DATA:-}" ] || DATA=$(absolute "$DATA")
# shellcheck source=scripts/slurm/defaults.sh
source "$here/defaults.sh"
for name in PIPELINE RECIPE STORE WIKI BOOKS LOGS; do
  printf -v "$name" '%s' "$(absolute "${!name}")"
done
export EARLYBERTS PARTS PIPELINE RECIPE DATA STORE WIKI BOOKS SPACY_FLAGS RETRIES

[ -x "$PIPELINE" ] || {
  echo "submit-spacy.sh: no pipeline binary at '$PIPELINE': build it first (make fetch, or cargo build --release --bin pipeline) or set PIPELINE" >&2
  exit 2
}
compgen -G "$WIKI" >/dev/null || {
  echo "submit-spacy.sh: no file matches WIKI='$WIKI': fetch the sources first (make fetch) or set WIKI" >&2
  exit 2
}
mkdir -p "$LOGS" "$STORE"

parts=$(sbatch --parsable --array="$ARRAY" --output="$LOGS/%x-%A_%a.out" "$@" \
  "$here/prepare-spacy.sbatch")
parts=${parts%%;*}
assembly=$(sbatch --parsable --dependency="afterany:$parts" --job-name=earlyberts-assemble \
  --output="$LOGS/%x-%j.out" "$@" "$here/prepare-spacy.sbatch")
assembly=${assembly%%;*}
echo "parts: job $parts (array $ARRAY of PARTS=$PARTS); assembly: job $assembly, once every part has ended"
echo "logs: $LOGS; store: $STORE"
