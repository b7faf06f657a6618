#!/usr/bin/env bash
# Issue 11 headline experiment: expert TextWorld trajectories -> SFT (LoRA) -> export -> held-out
# evaluation of the base and the tuned model, ReAct and Fold, two difficulty settings.
# Every step resumes: rerun the script after a stop and it continues where it was.
#   scripts/train_agent.sh [OUT]            (default runs/agent-sft)
# Phases can be run alone: PHASES="expert sft" scripts/train_agent.sh (all: expert sft export eval report ship)
# Evaluate one model only: MODELS=tuned PHASES=eval scripts/train_agent.sh (default: base tuned)
# Extra `experio train sft` options: SFT_ARGS="--max-batch-tokens 2048" scripts/train_agent.sh
set -euo pipefail
cd "$(dirname "$0")/.."
X=${EXPERIO:-.venv/bin/experio}
OUT=${1:-runs/agent-sft}
PHASES=${PHASES:-"expert sft export eval report ship"}
TRAIN_GAMES=${TRAIN_GAMES:-75}   # per setting (x2 settings, x2 contexts)
EVAL_GAMES=${EVAL_GAMES:-30}     # per setting
STEPS=${STEPS:-12}               # the same step budget for the expert, the base and the tuned model
# Two difficulty settings; training seeds 1000.. and 2000.., evaluation seeds 1..EVAL_GAMES.
declare -A SETTING=(
  [ql2]="--setting world_size=2 --setting nb_objects=4 --setting quest_length=2"
  [ql4]="--setting world_size=4 --setting nb_objects=8 --setting quest_length=4"
)
declare -A TRAIN_SEED=([ql2]=1000 [ql4]=2000)
mkdir -p "$OUT"
log() { echo "=== $(date -u +%H:%M:%S) $*"; }
has() { [[ " $PHASES " == *" $1 "* ]]; }

if has expert; then
  for s in ql2 ql4; do for ctx in react fold; do
    log "expert $s $ctx"
    $X agent expert --env textworld --tasks "$TRAIN_GAMES" --seed "${TRAIN_SEED[$s]}" ${SETTING[$s]} \
      --context "$ctx" --max-steps "$STEPS" --out "$OUT/expert-$s" --resume
  done; done
fi

if has sft; then
  log "sft"
  # Each held-out evaluation costs about as much as a few optimizer steps: every 34 steps gives
  # 4 points (steps 0, 34, 68, 102 of the default data) instead of one per checkpoint.
  resume=""; [[ -d "$OUT/sft/checkpoints" ]] && resume="--resume"
  [[ -d "$OUT/sft/adapter" ]] || $X train sft "$OUT/expert-ql2/trajectories.jsonl" "$OUT/expert-ql4/trajectories.jsonl" \
    --out "$OUT/sft" --epochs "${EPOCHS:-1}" --checkpoint-every 20 --eval-every "${EVAL_EVERY:-34}" ${SFT_ARGS:-} $resume
fi

if has export; then
  log "export"
  [[ -f "$OUT/sft/model.gguf" ]] || $X train export "$OUT/sft" --gguf-type q8_0
fi

if has eval; then
  for s in ql2 ql4; do for model in ${MODELS:-base tuned}; do
    m="--model embedded"; [[ $model == tuned ]] && m="--model $OUT/sft/model.gguf"
    for ctx in react fold; do
      log "eval $model $s $ctx"
      $X agent run --env textworld --tasks "$EVAL_GAMES" --seed 1 ${SETTING[$s]} --context "$ctx" \
        --max-steps "$STEPS" $m --train-data "$OUT/expert-$s" --out "$OUT/eval-$model-$s" --resume
    done; done
  done
fi

if has report; then
  log "report"
  .venv/bin/python scripts/train_agent_report.py "$OUT"
fi

if has ship; then
  # The adapter becomes the embedded agent's (src/experio/train/agent_adapter/, float16); commit it
  # only when the report shows the tuned model beating the base.
  log "ship"
  .venv/bin/python scripts/ship_agent_adapter.py "$OUT"
fi
