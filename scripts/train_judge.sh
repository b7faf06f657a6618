#!/usr/bin/env bash
# Issue 11, point 6: train ReasoningBank's judge on trajectories labelled by the game's reward and
# measure its agreement with the game before and after, on games it never saw.
#   scripts/train_judge.sh [AGENT_RUNS] [OUT]     (defaults runs/agent-sft, runs/judge)
# Needs the evaluation phase of scripts/train_agent.sh (its eval-*/ folders). Every step resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
X=${EXPERIO:-.venv/bin/experio}
RUNS=${1:-runs/agent-sft}
OUT=${2:-runs/judge}
log() { echo "=== $(date -u +%H:%M:%S) $*"; }

log "split (seeds <= 20: train; 21..: held out)"
.venv/bin/python scripts/judge_split.py "$RUNS" "$OUT"

for model in embedded embedded-agent; do
  log "before: $model"
  $X memory judge "$OUT/judge-eval.jsonl" --model "$model" --out "$OUT/before-$model" --resume
done

log "sft"
resume=""; [[ -d "$OUT/sft/checkpoints" ]] && resume="--resume"
[[ -d "$OUT/sft/adapter" ]] || $X train sft "$OUT/judge-train.jsonl" --examples judge --max-len 1536 \
  --epochs "${EPOCHS:-2}" --checkpoint-every 10 --out "$OUT/sft" $resume
[[ -f "$OUT/sft/model.gguf" ]] || $X train export "$OUT/sft" --gguf-type q8_0

log "after"
$X memory judge "$OUT/judge-eval.jsonl" --model "$OUT/sft/model.gguf" --out "$OUT/after" --resume

log "report"
for d in before-embedded before-embedded-agent after; do
  echo "## $d"; cat "$OUT/$d/report.md"
done | tee "$OUT/report.md"
