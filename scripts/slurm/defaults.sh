# The defaults of the spaCy stage's Slurm scripts, in one place: sourced (not run) by
# submit-spacy.sh and prepare-spacy.sbatch, with EARLYBERTS set to the checkout. A variable
# already set in the environment is kept.
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
