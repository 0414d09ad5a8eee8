# earlyberts — common tasks. `make help` lists them.

CARGO ?= cargo

.PHONY: help test check unit-test bench bench-build doc

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

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
