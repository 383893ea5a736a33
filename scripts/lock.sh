#!/usr/bin/env bash
# Resolve the locked environments with uv: exact versions and hashes of everything `make install`
# puts into .venv, one file per install profile. Run through `make lock`; commit the result.
#
#   requirements/cpu.txt  CPU machines and CI. torch is left out: the Makefile installs the CPU
#                         wheel of the pinned version first (its download source differs by site)
#                         and the lock holds everything else, torch's own dependencies included.
#   requirements/gpu.txt  CUDA machines: the same packages with PyPI's CUDA torch and its libraries.
#
# llama-cpp-python is built from source into a wheel cache (scripts/install_llamacpp.sh); its
# dependencies are in the lock, the package itself is not. Existing lock files are kept as
# preferences, so a refresh moves only what must move; UPGRADE=1 re-resolves everything to the newest.
#   PROFILES          which locks to write (default "cpu gpu")
#   LOCK_DIR          where to write them (default requirements/); an existing file there is the
#                     preference, so `llm-bench upgrade-check` copies the lock there first
#   UPGRADE_PACKAGES  packages allowed to move, as uv's --upgrade-package takes them
#                     ("transformers==5.24.0 peft"); the rest stays where the preference has it
#   PYTHON_VERSION    target interpreter (default 3.11)
#   TORCH_FIND_LINKS  where the CPU torch wheel is found (default: pip's find-links setting,
#                     else the PyTorch CPU index)
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-uv}"
py="${PYTHON_VERSION:-3.11}"
pins=requirements/pins.txt
torch_version=$(sed -n 's/^torch==//p' "$pins")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

common=(pyproject.toml --extra llamacpp --generate-hashes --python-version "$py"
        --python-platform x86_64-manylinux_2_28 --no-emit-package llama-cpp-python
        --custom-compile-command "make lock")
[ "${UPGRADE:-0}" = 1 ] && common+=(--upgrade)
for pkg in ${UPGRADE_PACKAGES:-}; do common+=(--upgrade-package "$pkg"); done
out="${LOCK_DIR:-requirements}"
profiles="${PROFILES:-cpu gpu}"

# CPU: the +cpu build of the pinned torch, found beside the package index.
grep -v '^torch==' "$pins" > "$tmp/cpu-pins.txt"
echo "torch==${torch_version}+cpu" >> "$tmp/cpu-pins.txt"
links="${TORCH_FIND_LINKS:-${PIP_FIND_LINKS:-$(python3 -m pip config get global.find-links 2>/dev/null || true)}}"
if [ -n "$links" ]; then
    torch_source=(--find-links "$links")
else
    torch_source=(--extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match)
fi
# A package named in UPGRADE_PACKAGES is freed from its pin, so the upgrade asked for can happen.
for pkg in ${UPGRADE_PACKAGES:-}; do
    name=$(echo "$pkg" | sed 's/[=<>!~ ].*//')
    grep -v -i "^${name}==" "$tmp/cpu-pins.txt" > "$tmp/p" || true; mv "$tmp/p" "$tmp/cpu-pins.txt"
done
grep -v '^torch==' "$tmp/cpu-pins.txt" | grep -v '^#' > "$tmp/gpu-pins.txt" || true
echo "torch==${torch_version}" >> "$tmp/gpu-pins.txt"
for profile in $profiles; do
    case "$profile" in
        cpu) "$UV" pip compile "${common[@]}" --extra cpu -c "$tmp/cpu-pins.txt" "${torch_source[@]}" \
                 --no-emit-package torch -o "$out/cpu.txt" ;;
        # PyPI's default torch build is the CUDA one.
        gpu) "$UV" pip compile "${common[@]}" --extra gpu -c "$tmp/gpu-pins.txt" -o "$out/gpu.txt" ;;
        *) echo "lock: unknown profile $profile (cpu, gpu)" >&2; exit 2 ;;
    esac
    echo "lock: $out/$profile.txt ($(grep -c '==' "$out/$profile.txt") packages)"
done
