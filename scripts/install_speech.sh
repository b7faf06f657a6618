#!/bin/sh
# The built-in speech test set's system parts (experio.speech.testset): espeak-ng speaks the
# synthetic part; Asterisk's core sounds (en, es, fr, it, ru; CC-BY-SA) and pocketsphinx's
# LibriVox clips are the real recorded speech. Idempotent: installs only what is missing.
set -eu
MISSING=""
command -v espeak-ng >/dev/null 2>&1 || MISSING="$MISSING espeak-ng"
for LL in en es fr it ru; do
    [ -f "/usr/share/doc/asterisk-core-sounds-$LL/core-sounds-$LL.txt.gz" ] || MISSING="$MISSING asterisk-core-sounds-$LL"
    [ -d "/usr/share/asterisk/sounds/$LL" ] || MISSING="$MISSING asterisk-core-sounds-$LL-wav"
done
[ -f /usr/share/pocketsphinx/test/data/librivox/transcription ] || MISSING="$MISSING pocketsphinx-testdata"
if [ -z "$MISSING" ]; then
    echo "speech test set ok: espeak-ng, asterisk core sounds, pocketsphinx-testdata"
    exit 0
fi
sh "$(dirname "$0")/apt_install.sh" "the built-in speech test set" $MISSING
