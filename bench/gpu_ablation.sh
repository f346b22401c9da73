#!/usr/bin/env bash
# Issue 24's GPU check, prepared for a lent device: the ablation's four main arms with the `20M` model (3 seeds,
# bf16 on the GPU), then bench/mfu.py. About 8 minutes of device time; docs/train_stub.md records its figures.
#
# Here, once the ablation's arms are built (make ablation):
#   bash bench/gpu_ablation.sh prepare   # out/gpu_bundle: the four arms' shards and records and the evaluation
#                                        # texts (no corpus there); .whl: the three pure-pip packages curate imports
#                                        # that the device's image lacks (warcio, brotli, dill), for its Python 3.12
# There, in one device `run` call with carry [out/gpu_bundle, .whl] and timeout_s 540:
#   bash bench/gpu_ablation.sh run       # $OUT/gpu_ablation.md and .json (the ablation's tables), $OUT/mfu.txt
set -euo pipefail
cd "$(dirname "$0")/.."
ARMS=(arm_raw arm_extracted arm_filtered arm_curated)
BUNDLE=out/gpu_bundle
# 2M tokens: the CPU ablation's budget, under one epoch of the smallest arm (arm_curated, 3.08M tokens)
TOKENS=${TOKENS:-2000000}

case "${1:-}" in
  prepare)
    .venv/bin/python -m train_stub.ablation pipelines/ablation/ablation.yaml --no-run --arms "${ARMS[@]}" \
      --export "$BUNDLE"
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
    rm -rf .whl
    .venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl warcio==1.8.1 brotli==1.2.1 dill==0.4.1
    du -sh "$BUNDLE" .whl
    ;;
  run)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1
    OUT=${OUT:-out/gpu_ablation}
    mkdir -p "$OUT"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/device.txt"
    python3 -m train_stub.ablation pipelines/ablation/ablation.yaml --bundle "$BUNDLE" --model 20M --device cuda \
      --seeds 0 1 2 --arms "${ARMS[@]}" --tokens "$TOKENS" --markdown "$OUT/gpu_ablation.md" \
      --json "$OUT/gpu_ablation.json"
    python3 bench/mfu.py | tee "$OUT/mfu.txt"
    ;;
  *)
    echo "usage: bash bench/gpu_ablation.sh prepare|run" >&2
    exit 2
    ;;
esac
