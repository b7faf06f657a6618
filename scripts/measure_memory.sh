#!/usr/bin/env bash
# Issue 5 measurement (docs/memory.md): 30 TextWorld games on the embedded model,
# no memory vs ReasoningBank vs ReasoningBank + MaTTS parallel:3, into one run folder.
# About 2 hours on 2 cores; --resume makes a stopped run continue where it was.
set -u
cd "$(dirname "$0")/.."
X=.venv/bin/experio
OUT=${1:-runs/rb30}
COMMON="--env textworld --tasks 30 --seed 1 --setting world_size=2 --setting nb_objects=4 --setting quest_length=2 --context react --max-steps 10 --out $OUT"
for m in "--memory none" "--memory reasoningbank" "--memory reasoningbank --matts parallel:3"; do
  echo "=== $m $(date)"
  $X memory run $COMMON $m --resume
done
$X memory report "$OUT"
