# earlyberts — common tasks. `make help` lists them.

CARGO ?= cargo

PIPELINE = target/release/pipeline
DEMO = demo

.PHONY: help demo test check unit-test bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

demo: ## build the bundled sample corpus (seed 1), verify it against its golden manifest, audit it, show examples
	$(CARGO) build --release --quiet -p earlyberts-pipeline
	$(PIPELINE) fixture --out $(DEMO)/inputs > /dev/null
	$(PIPELINE) build --recipe manifests/recipes/earlyberts.toml --seed 1 --out $(DEMO)/seed1 \
		--wiki '$(DEMO)/inputs/wikipedia/*.parquet' --books $(DEMO)/inputs/bookcorpus/bookcorpus.tar.bz2
	$(PIPELINE) verify $(DEMO)/seed1 --golden golden/fixture-earlyberts-seed1.json
	$(PIPELINE) inspect $(DEMO)/seed1 --examples 0..3
	@echo "demo: the build is in $(DEMO)/seed1; try: $(PIPELINE) inspect $(DEMO)/seed1 --step 1 --batch-size 4"

test: check unit-test ## everything CI runs: formatting, lints, docs, all tests, benchmarks compile

check: ## rustfmt, clippy (warnings are errors), rustdoc (broken links are errors)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --quiet

unit-test: ## unit, property and end-to-end tests
	$(CARGO) test --workspace
	$(CARGO) bench --workspace --no-run --quiet

bench: ## run the benchmarks (criterion; results in target/criterion)
	$(CARGO) bench --workspace
