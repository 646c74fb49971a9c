# Two entry points: `make demo` (the main job) and `make test` (every test).
# Both create the project-local venv with libtorch on first use (scripts/setup.sh).
SHELL := /bin/bash
TORCH_VARIANT ?= cpu
ENV := source scripts/env.sh &&

.PHONY: setup build demo test reference
setup:
	TORCH_VARIANT=$(TORCH_VARIANT) bash scripts/setup.sh

build: setup
	$(ENV) cargo build --release

demo: build
	$(ENV) ./target/release/helixfold run examples/demo.hf

# The parity tests read DeepMind's reference cases, generated first (deterministic); the kernel's
# `%%rust` cell tests need the evcxr helper (kernel/rust-cells), built in its cheap profile.
test: setup reference
	$(ENV) cargo build --profile rust-cells -p helixfold-rust-cells
	$(ENV) cargo test --release

# DeepMind's AlphaFold2 reference cases for the network's parity tests (tests/reference/),
# regenerated when the generator changes.
REFERENCE_STAMP := target/reference/.complete
reference: setup $(REFERENCE_STAMP)
$(REFERENCE_STAMP): tests/reference/make_reference.py tests/reference/af2_shims.py
	.venv/bin/python tests/reference/make_reference.py --out target/reference
	touch $@
