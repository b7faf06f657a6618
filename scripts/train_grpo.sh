#!/usr/bin/env bash
# Issue 12, point 2: GRPO on the addition task (embedded model, LoRA, CPU); the held-out reward
# every 10 steps in OUT/report.md. Resumes from the newest checkpoint when stopped.
#   scripts/train_grpo.sh [OUT]     (default runs/grpo-addition)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/grpo-addition}
.venv/bin/experio train grpo --task addition --out "$OUT" --steps "${STEPS:-60}" --resume
cat "$OUT/report.md"
