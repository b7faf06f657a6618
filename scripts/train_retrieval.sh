#!/usr/bin/env bash
# Issue 13 headline experiment (MARAG-R1 on FOLDOC): benchmark -> baselines and the untrained agent
# on held-out questions -> expert tool-use trajectories (the generator's plans) -> SFT (LoRA) ->
# export -> the SFT agent on the same questions -> RL (RLOO, three rewards) -> the RL agent.
# Every phase resumes: rerun the script after a stop and it continues where it was.
#   scripts/train_retrieval.sh [OUT]          (default runs/retrieval)
# Phases alone: PHASES="bench eval" scripts/train_retrieval.sh
#   (all: bench eval expert sft export eval-sft rl eval-rl report)
set -euo pipefail
cd "$(dirname "$0")/.."
X=${EXPERIO:-.venv/bin/experio}
OUT=${1:-runs/retrieval}
PHASES=${PHASES:-"bench eval expert sft export eval-sft rl eval-rl report"}
PER_FAMILY=${PER_FAMILY:-40}      # questions generated per family (then split train / test)
EVAL_PER_FAMILY=${EVAL_PER_FAMILY:-6}  # test questions per family every method answers
STEPS=${STEPS:-8}                 # the agent's step budget, the same for the expert and every model
RL_STEPS=${RL_STEPS:-8}
RL_EVAL=${RL_EVAL:-8}            # validation questions of RL (from the training file), every RL_EVAL_EVERY steps
RL_EVAL_EVERY=${RL_EVAL_EVERY:-4}
mkdir -p "$OUT"
log() { echo "=== $(date -u +%H:%M:%S) $*"; }
has() { [[ " $PHASES " == *" $1 "* ]]; }
evaluate() {  # NAME METHODS [model options...]
  local name=$1 methods=$2; shift 2
  $X retrieval eval "$OUT/bench/test.jsonl" --per-family "$EVAL_PER_FAMILY" --methods "$methods" \
    --max-steps "$STEPS" --out "$OUT/eval-$name" --resume --quiet "$@"
}

if has bench; then
  log "bench"
  [[ -f "$OUT/bench/summary.json" ]] || $X retrieval bench --per-family "$PER_FAMILY" --out "$OUT/bench"
fi

if has eval; then
  log "eval: oracle, RAG (BM25, dense) and the untrained agent (embedded base model)"
  evaluate base "oracle,rag-bm25,rag-dense,agent" --model embedded
fi

if has expert; then
  log "expert"
  $X retrieval expert "$OUT/bench/train.jsonl" --eval-questions "$OUT/bench/test.jsonl" --max-steps "$STEPS" \
    --out "$OUT/expert" --resume --quiet
fi

if has sft; then
  log "sft"
  resume=""; [[ -d "$OUT/sft/checkpoints" ]] && resume="--resume"
  [[ -d "$OUT/sft/adapter" ]] || $X train sft "$OUT/expert/trajectories.jsonl" --out "$OUT/sft" \
    --epochs "${EPOCHS:-1}" --checkpoint-every 10 --max-len 1536 --no-gradient-checkpointing $resume
fi

if has export; then
  log "export"
  [[ -f "$OUT/sft/model.gguf" ]] || $X train export "$OUT/sft" --gguf-type q8_0 --no-hf
fi

if has eval-sft; then
  log "eval: the SFT agent"
  evaluate sft "agent,rag-bm25" --model "$OUT/sft/model.gguf"
fi

if has rl; then
  log "rl"
  resume=""; [[ -d "$OUT/rl/checkpoints" ]] && resume="--resume"
  [[ -d "$OUT/rl/adapter" ]] || $X retrieval rl "$OUT/bench/train.jsonl" --init-adapter "$OUT/sft/adapter" \
    --steps "$RL_STEPS" --max-steps "$STEPS" --n-eval "$RL_EVAL" --eval-every "$RL_EVAL_EVERY" --out "$OUT/rl" \
    $resume --quiet
  [[ -f "$OUT/rl/model.gguf" ]] || $X train export "$OUT/rl" --base embedded --gguf-type q8_0 --no-hf
fi

if has eval-rl; then
  log "eval: the SFT + RL agent"
  evaluate rl "agent" --model "$OUT/rl/model.gguf"
fi

if has report; then
  log "report"
  .venv/bin/python scripts/train_retrieval_report.py "$OUT"
fi
