# earlyberts — common tasks. `make help` lists them.

CARGO ?= cargo

# `--bin`, not `-p`: features resolve over the whole workspace, as in `cargo build --release`,
# so the two share every compiled dependency (`-p earlyberts-trainer` resolves other features
# and compiles burn again, about 15 minutes here), and `--bin pipeline` compiles no burn.
PIPELINE ?= target/release/pipeline
BUILD_PIPELINE ?= $(CARGO) build --release --quiet --bin pipeline
TRAINER ?= target/release/trainer
BUILD_TRAINER ?= $(CARGO) build --release --quiet --bin trainer
DEMO = demo
DATA ?= data
SEEDS ?= 0 1 2 3 4
SOURCES ?= manifests/sources.toml
# What `pipeline fetch --lock` wrote: the Hub commits and hashes of the Hub entries.
LOCK ?= manifests/sources.lock
RECIPE ?= manifests/recipes/earlyberts.toml
RECIPE_NAME = $(basename $(notdir $(RECIPE)))
CORPUS ?= wikibooks
LIMIT ?=
# The reference kind's run history (fresh, resumed, continued:C1,C2,…); empty: the recipe's.
HISTORY ?=
# More flags for `pipeline build`.
BUILD_FLAGS ?=
# The reference recipe's spaCy setup, e.g. --python PATH --spacy-model NAME
# --allow-spacy-version (by default the mirror EARLYBERTS_SPACY_MODEL names, if set). None is
# needed where the spaCy parts ran on a cluster (the store records their setup).
SPACY_FLAGS ?= $(if $(EARLYBERTS_SPACY_MODEL),--spacy-model $(EARLYBERTS_SPACY_MODEL) --allow-spacy-version)

.PHONY: help demo demo-build gpu-bundle bench-lengths bench-cpu fetch data train rehearse test-rehearse test-slurm which-history python test-python bench-python test test-wgpu test-slow check unit-test bench bench-build bench-splitter fuzz-seeds fuzz

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

demo: demo-build ## the sample corpus built for seed 1 (see demo-build), then `tiny` trained on it for 40 steps on CPU (peak rate 1e-3, warm-up 10, to see it learn)
	$(BUILD_TRAINER)
	$(TRAINER) run --seed 1 --build $(DEMO)/seed1 --init random --config tiny --device cpu \
		--batch-size 8 --override-batch-size --micro-batch 4 --lr 1e-3 --warmup 10 --max-steps 40 --checkpoints 10,20,40 \
		--out $(DEMO)/runs > /dev/null
	$(TRAINER) plot $(DEMO)/runs/seed1
	@echo "demo: checkpoints in $(DEMO)/runs/seed1/step{10,20,40} (Hugging Face format), step log in $(DEMO)/runs/seed1/log.jsonl"

# The demo needs no Python: it builds with the keyed recipe. DEMO_RECIPE=earlyberts builds the
# reference one (spaCy and its model installed; DEMO_FLAGS="--spacy-model NAME
# --allow-spacy-version" for a mirror of the model).
DEMO_RECIPE ?= earlyberts-keyed
DEMO_FLAGS ?=

demo-build: ## the sample corpus built for seed 1, verified against its golden manifest, audited, a few examples shown
	$(BUILD_PIPELINE)
	$(PIPELINE) fixture --out $(DEMO)/inputs > /dev/null
	$(PIPELINE) build --recipe manifests/recipes/$(DEMO_RECIPE).toml --seed 1 --out $(DEMO)/seed1 \
		--wiki '$(DEMO)/inputs/wikipedia/*.parquet' --books $(DEMO)/inputs/bookcorpus/bookcorpus.tar.bz2 $(DEMO_FLAGS)
	$(PIPELINE) verify $(DEMO)/seed1 --golden golden/fixture-$(DEMO_RECIPE)-seed1.json
	$(PIPELINE) inspect $(DEMO)/seed1 --examples 0..3
	@echo "demo: the build is in $(DEMO)/seed1; try: $(PIPELINE) inspect $(DEMO)/seed1 --step 1 --batch-size 4"

# What scripts/gpu-bench.sh needs on a GPU machine, in one directory to carry (≤ 64 MiB).
# cudarc binds the CUDA version at build time: 13000 matches the H200 machines' driver 580.
GPU_BUNDLE = target/gpu-bundle
gpu-bundle: ## target/gpu-bundle: the CUDA trainer (stripped) and realistic sequence lengths for scripts/gpu-bench.sh; prints the bundle's size
	CUDARC_CUDA_VERSION=$${CUDARC_CUDA_VERSION:-13000} $(CARGO) build --profile gpu --quiet -p earlyberts-trainer --features cuda
	mkdir -p $(GPU_BUNDLE)
	cp target/gpu/trainer $(GPU_BUNDLE)/trainer
	$(MAKE) --no-print-directory bench-lengths LENGTHS_OUT=$(GPU_BUNDLE)/lengths.txt
	@du -b $(GPU_BUNDLE)/* | awk '{ total += $$1; print } END { printf "bundle: %.1f MiB of 64 MiB\n", total / 1048576; if (total > 64 * 1048576) exit 1 }'

# The sequence lengths of a realistic build (reference recipe, real Wikipedia articles and a
# novel as BookCorpus): mean ≈ 60 tokens, tail to 511. Needs spaCy (SPACY_FLAGS for a mirror).
LENGTHS_OUT ?= target/bench/lengths.txt
bench-lengths: ## LENGTHS_OUT (target/bench/lengths.txt): sequence lengths of a realistic build, for `trainer bench --lengths`
	$(BUILD_PIPELINE)
	python3 scripts/bench_lengths.py --out $(LENGTHS_OUT) $(SPACY_FLAGS)

# The trainer's CPU step against PyTorch's, interleaved on one machine (same shapes, same
# work: dropout off, MLM head on labelled positions). TORCH_PYTHON: a Python with torch and
# transformers.
TORCH_PYTHON ?= python3
bench-cpu: ## BERT-base training steps (8 × 128 tokens) on the CPU, trainer and PyTorch alternately, 3 rounds
	$(BUILD_TRAINER)
	python3 scripts/cpu_bench.py --trainer $(TRAINER) --python $(TORCH_PYTHON)

fetch: ## build the pipeline and fetch the pinned sources into DATA/sources (resumable, verified)
	$(BUILD_PIPELINE)
	$(PIPELINE) fetch --sources $(SOURCES) --lock-file $(LOCK) --data-dir $(DATA)/sources

data: fetch ## fetch the pinned sources, build SEEDS with RECIPE (LIMIT=N: first N examples; HISTORY=…; SPACY_FLAGS=…), verify against golden manifests, audit
	@for seed in $(SEEDS); do \
	  build=$(DATA)/builds/$(CORPUS)-$(RECIPE_NAME)-seed$$seed; \
	  echo "== seed $$seed -> $$build"; \
	  $(PIPELINE) build --recipe $(RECIPE) --seed $$seed --out $$build --store $(DATA)/store-$(RECIPE_NAME) \
	    --wiki '$(DATA)/sources/wikipedia/20220301.en/*.parquet' \
	    --books $(DATA)/sources/bookcorpus/bookcorpus.tar.bz2 $(if $(LIMIT),--limit-examples $(LIMIT)) \
	    $(if $(HISTORY),--history $(HISTORY)) $(BUILD_FLAGS) $(SPACY_FLAGS) || exit $$?; \
	  golden=golden/$(CORPUS)-$(RECIPE_NAME)-seed$$seed.json; \
	  if [ -f $$golden ]; then $(PIPELINE) verify $$build --golden $$golden || exit $$?; \
	  else echo "no published manifest $$golden yet: build not compared"; fi; \
	done

# `make data` rehearsed at the real size before anything is downloaded: a generated corpus
# of the real shape (SCALE=1: 41 Wikipedia parquet files and the BookCorpus archive, 25 GB of
# text; the reference recipe gets Wikipedia as given rows, `wiki-sentences.csv`), built for
# two seeds on one store with RECIPE (LIMIT=N: the first N examples), then verify, where,
# inspect, the Python package and the trainer's data feed, each measured (scripts/rehearse.py).
# REHEARSE_DIR is removed afterwards unless REHEARSE_FLAGS=--keep.
SCALE ?= 1
REHEARSE_DIR ?= target/rehearse
REHEARSE_FLAGS ?=
rehearse: ## generate a corpus of the real shape (SCALE=1: 25 GB of text) and run `make data`'s build for two seeds, verify, where, inspect, Python and the trainer's feed on it; prints what each stage costs
	$(BUILD_PIPELINE)
	$(BUILD_TRAINER)
	python3 scripts/rehearse.py --scale $(SCALE) --recipe $(RECIPE) $(if $(LIMIT),--limit $(LIMIT)) \
		--work $(REHEARSE_DIR) --pipeline $(PIPELINE) --trainer $(TRAINER) --python $(PYTHON) $(REHEARSE_FLAGS)

# In `make test`: both recipes at SCALE=0.01 (250 MB of text) with the tests' debug binaries.
test-rehearse: ## `make rehearse SCALE=0.01` for both recipes, on the tests' build
	$(CARGO) build --quiet --workspace $(TEST_FEATURES)
	$(MAKE) --no-print-directory rehearse SCALE=0.01 RECIPE=manifests/recipes/earlyberts-keyed.toml \
		BUILD_PIPELINE=true BUILD_TRAINER=true PIPELINE=target/debug/pipeline TRAINER=target/debug/trainer \
		PYTHON=$(PYTHON_TEST_ENV)/bin/python REHEARSE_DIR=target/rehearse-test
	$(MAKE) --no-print-directory rehearse SCALE=0.01 RECIPE=manifests/recipes/earlyberts.toml \
		BUILD_PIPELINE=true BUILD_TRAINER=true PIPELINE=target/debug/pipeline TRAINER=target/debug/trainer \
		PYTHON=$(PYTHON_TEST_ENV)/bin/python REHEARSE_DIR=target/rehearse-test

# Training on this machine: SEEDS one after another, each started or resumed from its newest
# saved state under RUNS (scripts/train-seed.sh, the script Slurm's train.sbatch runs), on
# the builds `make data` made. DEVICE: cuda or cpu [the trainer's: CUDA where compiled in and
# usable, else the CPU]; INIT_FLAGS for a first start only, TRAIN_FLAGS for every start.
# TRAINER is built (without CUDA) only where it is missing: for a GPU, build it first with
# `cargo build --release --bin trainer --features cuda`.
RUNS ?= runs
DEVICE ?=
INIT_FLAGS ?=
TRAIN_FLAGS ?=
train: ## train SEEDS (one after another; each resumes where it stopped) on the builds of `make data`: runs/seedN/stepK
	test -x $(TRAINER) || $(BUILD_TRAINER)
	@for seed in $(SEEDS); do \
	  TRAINER=$(TRAINER) DATA=$(DATA) RECIPE=$(RECIPE) CORPUS=$(CORPUS) RUNS=$(RUNS) DEVICE=$(DEVICE) \
	    INIT_FLAGS='$(INIT_FLAGS)' TRAIN_FLAGS='$(TRAIN_FLAGS)' scripts/train-seed.sh $$seed || exit $$?; \
	done

# Which run history made the published EarlyBERTs checkpoints of seed SEED? The step-STEP
# revision and the MultiBERTs step-0 checkpoint are fetched (lock them first: `pipeline
# fetch --lock --only multiberts,earlyberts-seedN`), the first STEP × WHICH_BATCH examples
# of each history in HISTORIES are built with RECIPE (on the store `make data` shares: the
# reference's pairs depend on the whole corpus's rows), and `trainer replay` replays the
# STEP steps on each at every micro-batch size of MICRO_BATCHES and prints the verdict.
SEED ?= 1
STEP ?= 10
# The batch the histories are replayed at (--override-batch-size: whatever the recipe's
# training.batch_size; a smaller one builds and replays fewer examples, as the tests do).
WHICH_BATCH ?= 256
HISTORIES ?= fresh resumed
MICRO_BATCHES ?= 256,128,64,32,16,8
# Two rounds (the default): every history at the first size of MICRO_BATCHES, then only the
# matching one at the others (`trainer replay --micro-batch-after-match`); WHICH_ROUNDS=1
# replays every history at every size.
WHICH_ROUNDS ?= 2
# AUDIT=1: fetch all 31 revisions of the seed too and audit them first (`trainer suite`:
# identical revisions, distances, updates against the learning rates); a finding stops here.
AUDIT ?=
REPLAY_FLAGS ?=
WIKI_INPUT ?= --wiki '$(DATA)/sources/wikipedia/20220301.en/*.parquet'
BOOKS_INPUT ?= --books $(DATA)/sources/bookcorpus/bookcorpus.tar.bz2
comma := ,
# A history's build directory (`continued:C1,C2` → `…-continued-C1-C2`).
history_dir = $(DATA)/which-history/seed$(SEED)-$(subst :,-,$(subst $(comma),-,$(1)))
which-history: ## which run history (HISTORIES) made EarlyBERTs seed SEED's step-STEP checkpoint: fetch it, build each history's first STEP × 256 examples, replay (two rounds), print the verdict; AUDIT=1 audits the seed's 31 revisions first
	$(BUILD_PIPELINE)
	$(BUILD_TRAINER)
	$(PIPELINE) fetch --sources $(SOURCES) --lock-file $(LOCK) --data-dir $(DATA)/sources \
		--only multiberts,earlyberts-seed$(SEED)$(if $(filter 1,$(AUDIT)),$(comma)earlyberts-seed$(SEED)-suite)
	$(if $(filter 1,$(AUDIT)),$(TRAINER) suite --init $(DATA)/sources/multiberts/seed_$(SEED)-step_0k \
		--revisions $(DATA)/sources/earlyberts/seed$(SEED))
	$(foreach history,$(HISTORIES),$(PIPELINE) build --recipe $(RECIPE) --seed $(SEED) \
		--history $(history) --out $(call history_dir,$(history)) \
		--limit-examples $$(( $(STEP) * $(WHICH_BATCH) )) --store $(DATA)/store-$(RECIPE_NAME) \
		$(WIKI_INPUT) $(BOOKS_INPUT) $(BUILD_FLAGS) && ) true
	$(TRAINER) replay --init $(DATA)/sources/multiberts/seed_$(SEED)-step_0k \
		--target $(DATA)/sources/earlyberts/seed$(SEED)/step$(STEP) --steps $(STEP) \
		--batch-size $(WHICH_BATCH) --override-batch-size --micro-batch $(MICRO_BATCHES) \
		$(if $(filter 1,$(WHICH_ROUNDS)),,--micro-batch-after-match) \
		$(foreach history,$(HISTORIES),--build $(call history_dir,$(history))) $(REPLAY_FLAGS)

# `import earlyberts`: the package in python/ (maturin + pyo3, one abi3 wheel), installed into
# PYTHON's environment. Its tests run in an environment of their own (target/pyenv), against
# the debug `pipeline` binary that `cargo test --workspace` builds.
PYTHON ?= python3
PYTHON_TEST_ENV = target/pyenv
python: ## install the Python package `earlyberts` into PYTHON's environment (pip install ./python; maturin comes from PyPI)
	$(PYTHON) -m pip install ./python

# The type stubs are checked against the built module (stubtest) and against a file that uses
# every call as a user would (mypy --strict, python/tests/typed_usage.py); python/pyproject.toml
# holds mypy's settings (torch's types are Any where it is not installed, as in target/pyenv).
# stubtest writes its cache where it runs.
MYPY_CACHE = target/mypy-cache/pyenv
test-python: ## the Python package's tests (pytest, every call checked against the CLI) and its type stubs (stubtest, mypy --strict) in target/pyenv
	$(CARGO) build --quiet --workspace $(TEST_FEATURES)
	test -x $(PYTHON_TEST_ENV)/bin/python || python3 -m venv $(PYTHON_TEST_ENV)
	$(PYTHON_TEST_ENV)/bin/python -m pip install --quiet --disable-pip-version-check 'maturin>=1.9.4,<2' numpy pandas pytest 'mypy==2.4.1'
	VIRTUAL_ENV=$(abspath $(PYTHON_TEST_ENV)) $(PYTHON_TEST_ENV)/bin/maturin develop --quiet -m python/Cargo.toml
	mkdir -p $(MYPY_CACHE)
	cd $(MYPY_CACHE) && $(abspath $(PYTHON_TEST_ENV))/bin/python -m mypy.stubtest earlyberts._earlyberts \
		--mypy-config-file $(abspath python/pyproject.toml)
	MYPY_CACHE_DIR=$(MYPY_CACHE) $(PYTHON_TEST_ENV)/bin/python -m mypy --config-file python/pyproject.toml \
		python/earlyberts python/tests/typed_usage.py
	EARLYBERTS_PIPELINE=target/debug/pipeline EARLYBERTS_TRAINER=target/debug/trainer \
		$(PYTHON_TEST_ENV)/bin/python -m pytest -q python/tests

bench-python: ## build.step and TrainingOrder against the FORMAT.md numpy reader on a generated 40 MB build (needs `make python` first)
	$(BUILD_PIPELINE)
	$(PYTHON) scripts/bench_python.py

test: check unit-test test-python test-slurm test-rehearse ## everything CI runs: formatting, lints, docs, all tests (Rust, Python, Slurm), the rehearsal at SCALE=0.01, benchmarks compile

# The tests build the trainer with the wgpu backend too (one build of burn for every test):
# its tests run the GPU code path on any Vulkan driver, lavapipe (Mesa's software one) in
# CI, and skip, saying so, where there is none (EARLYBERTS_REQUIRE_WGPU=1 makes that a
# failure).
TEST_FEATURES ?= --features earlyberts-trainer/wgpu

check: ## rustfmt, clippy (warnings are errors), rustdoc (broken links are errors), import circles and long functions, the CUDA build
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets $(TEST_FEATURES) -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --quiet
	python3 scripts/check-architecture.py
	# The GPU path must keep compiling, though no GPU runs it here (cudarc loads CUDA at run time).
	$(CARGO) check --quiet -p earlyberts-trainer --features cuda

# The benchmarks are compiled in the test profile, on the tests' build: the bench profile
# would compile every dependency again (7 minutes of a cold CI run on 2 cores).
unit-test: ## unit, property and end-to-end tests (the wgpu ones on lavapipe or a GPU, see test-wgpu); the benchmarks compile
	$(CARGO) test --workspace $(TEST_FEATURES)
	$(CARGO) build --quiet --workspace --benches $(TEST_FEATURES)

test-wgpu: ## only the GPU code path's tests, on wgpu (Vulkan; Debian without a GPU: apt install mesa-vulkan-drivers libvulkan1)
	EARLYBERTS_REQUIRE_WGPU=1 $(CARGO) test --workspace $(TEST_FEATURES) -- wgpu

test-slurm: ## the Slurm scripts (the spaCy stage's, training's) on a one-node Slurm the test starts and stops (root; Debian: apt install slurm-wlm munge; spaCy for its phase); skips, saying why, without them
	$(CARGO) build --quiet --workspace $(TEST_FEATURES)
	PIPELINE=target/debug/pipeline TRAINER=target/debug/trainer scripts/test-slurm.sh

test-slow: ## the full kill matrix: 20 SIGKILL points over a fixture build and 20 over a training run
	EARLYBERTS_KILL_POINTS=20 $(CARGO) test -p earlyberts-pipeline --test integration crash::
	EARLYBERTS_KILL_POINTS=20 $(CARGO) test -p earlyberts-trainer --test integration cli::killed

fuzz-seeds: demo-build ## seed corpora for the fuzz targets from the sample build and corpus (fuzz/corpus/)
	mkdir -p fuzz/corpus/shard_reader fuzz/corpus/manifest fuzz/corpus/splitter fuzz/corpus/tokenizer
	cp $(DEMO)/seed1/shards/*.ebs.zst fuzz/corpus/shard_reader/
	cp $(DEMO)/seed1/manifest.json fuzz/corpus/manifest/
	cp tests/fixtures/corpus/*.txt fuzz/corpus/splitter/
	cp tests/fixtures/corpus/*.txt fuzz/corpus/tokenizer/

FUZZ_SECONDS ?= 300
fuzz: fuzz-seeds ## run every fuzz target for FUZZ_SECONDS each (nightly + cargo-fuzz)
	cd fuzz && for t in shard_reader manifest splitter tokenizer; do \
	  cargo +nightly fuzz run $$t corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) || exit $$?; done

bench: ## run the benchmarks (criterion; results in target/criterion)
	$(CARGO) bench --workspace

bench-splitter: ## the keyed recipe's rule splitter against spaCy on Wikipedia (boundary F1, sentence and example counts, mean length) and both against UD English-EWT gold; needs spaCy (SPACY_FLAGS)
	$(BUILD_PIPELINE)
	python3 scripts/splitter_agreement.py $(SPACY_FLAGS)

bench-build: ## the whole `pipeline build`, parquet and tar.bz2 to verified, audited shards, on a generated 1 GB corpus (target/bench/build), 1 and 2 threads: MB/s per core, peak RSS, stage shares
	$(BUILD_PIPELINE)
	python3 scripts/bench_build.py --mb 1024
