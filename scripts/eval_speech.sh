#!/usr/bin/env bash
# Issue 14: the built-in speech test set (espeak-ng in 26 languages, Asterisk prompts in 5,
# LibriVox) with the offline Whisper base; resumes when stopped.
#   scripts/eval_speech.sh [OUT]      (default runs/speech-builtin)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/speech-builtin}
.venv/bin/experio speech eval --set builtin --out "$OUT" --resume --quiet
cat "$OUT/report.md"
