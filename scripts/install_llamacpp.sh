#!/usr/bin/env bash
# Build llama-cpp-python once into a wheel cache, then install it from that cache.
#
# Usage: scripts/install_llamacpp.sh [PYTHON]      (default: .venv/bin/python)
#   LLAMACPP_WHEEL_CACHE  wheel cache folder (default: .wheels/, git-ignored); CI keeps it between runs
#   LLAMACPP_VERSION      llama-cpp-python version to build (default below; the lock holds its dependencies)
#   CMAKE_ARGS            extra CMake flags, e.g. "-DGGML_CUDA=on" on a CUDA machine;
#                         -DGGML_NATIVE=OFF is always added so a cached wheel runs on any x86-64 CPU
set -euo pipefail

cd "$(dirname "$0")/.."
PY="${1:-.venv/bin/python}"
VERSION="${LLAMACPP_VERSION:-0.3.36}"
CACHE="${LLAMACPP_WHEEL_CACHE:-.wheels}"
mkdir -p "$CACHE"

if ls "$CACHE"/llama_cpp_python-"$VERSION"-*.whl >/dev/null 2>&1; then
    echo "install_llamacpp: using cached wheel in $CACHE"
else
    echo "install_llamacpp: building llama-cpp-python $VERSION (several minutes)"
    export CMAKE_ARGS="-DGGML_NATIVE=OFF ${CMAKE_ARGS:-}"
    export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
    export MAKEFLAGS="${MAKEFLAGS:--j2}"
    "$PY" -m pip wheel --no-deps --wheel-dir "$CACHE" "llama-cpp-python==$VERSION"
fi

# Its dependencies and the [server] extra (uvicorn, fastapi, ...) are in the lock, installed
# before this; the package itself comes from the cache alone, never rebuilt and never resolved.
"$PY" -m pip install --no-deps --no-index --find-links "$CACHE" "llama-cpp-python==$VERSION"
"$PY" -c "import llama_cpp; print('install_llamacpp: llama_cpp', llama_cpp.__version__)"
