# The defaults of the Slurm scripts (the spaCy stage's and training's) and of `make train`, in
# one place: sourced (not run) with EARLYBERTS set to the checkout. A variable already set in
# the environment is kept.
#
#   PIPELINE     the pipeline binary [target/release/pipeline]
#   RECIPE       [manifests/recipes/earlyberts.toml]
#   DATA         [data]; STORE [$DATA/store-earlyberts]
#   WIKI         Wikipedia's parquet files, a glob [$DATA/sources/wikipedia/20220301.en/*.parquet]
#   BOOKS        BookCorpus [$DATA/sources/bookcorpus/bookcorpus.tar.bz2]
#   SPACY_FLAGS  e.g. "--python /opt/venv/bin/python --spacy-model NAME --allow-spacy-version" []
#   RETRIES      times a part killed by a signal (the OOM killer, kill -9) starts again [2]
#   LOGS         where submit-spacy.sh sends the jobs' logs [$DATA/slurm-logs]
#
# and of training (train.sbatch, submit-train.sh, scripts/train-seed.sh and `make train`):
#
#   TRAINER      the trainer binary [target/release/trainer]
#   SEEDS        the seeds submit-train.sh trains, as an array range or list [0-4]
#   CORPUS       the builds' corpus name, as `make data` names them [wikibooks]; the build of
#                seed N is $DATA/builds/$CORPUS-<recipe name>-seedN
#   RUNS         where the runs go: $RUNS/seedN/stepK [$EARLYBERTS/runs, `trainer run`'s]
#   DEVICE       cuda or cpu [cuda; set but empty: the trainer's own choice, as `make train`]
#   GRES         what a seed's task asks for [gpu:1; nothing with DEVICE=cpu]
#   INIT_FLAGS   flags of a run's first start only, e.g. "--init random --config tiny" []
#   TRAIN_FLAGS  flags of every start, resumed ones too, e.g. "--micro-batch 32" []
#
# PARTS, the number of parts, has no default here: a task of an array run by hand must be
# told N (submit-spacy.sh picks one), or it would run a part of another N.
# shellcheck shell=bash disable=SC2034 # the scripts that source this use the variables
: "${EARLYBERTS:?the checkout, set before sourcing defaults.sh}"
PIPELINE=${PIPELINE:-$EARLYBERTS/target/release/pipeline}
RECIPE=${RECIPE:-$EARLYBERTS/manifests/recipes/earlyberts.toml}
DATA=${DATA:-$EARLYBERTS/data}
STORE=${STORE:-$DATA/store-earlyberts}
WIKI=${WIKI:-$DATA/sources/wikipedia/20220301.en/*.parquet}
BOOKS=${BOOKS:-$DATA/sources/bookcorpus/bookcorpus.tar.bz2}
SPACY_FLAGS=${SPACY_FLAGS:-}
RETRIES=${RETRIES:-2}
LOGS=${LOGS:-$DATA/slurm-logs}
TRAINER=${TRAINER:-$EARLYBERTS/target/release/trainer}
SEEDS=${SEEDS:-0-4}
CORPUS=${CORPUS:-wikibooks}
RUNS=${RUNS:-$EARLYBERTS/runs}
DEVICE=${DEVICE-cuda}
if [ "$DEVICE" = cpu ]; then GRES=${GRES:-}; else GRES=${GRES:-gpu:1}; fi
INIT_FLAGS=${INIT_FLAGS:-}
TRAIN_FLAGS=${TRAIN_FLAGS:-}
