#!/bin/sh
# The built-in retrieval corpus (experio.retrieval.foldoc): FOLDOC from Debian's dict-foldoc
# package (GFDL). Its files are extracted into $EXPERIO_HOME/corpora/foldoc/ without installing
# the package, which would pull in the dictd server. Idempotent: does nothing when present.
set -eu
HOME_DIR="${EXPERIO_HOME:-$HOME/.cache/experio}"
DEST="$HOME_DIR/corpora/foldoc"
if [ -f /usr/share/dictd/foldoc.dict.dz ] || [ -f "$DEST/foldoc.dict.dz" ]; then
    echo "retrieval corpus ok: FOLDOC"
    exit 0
fi
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
if ! apt-get download dict-foldoc >/dev/null 2>&1; then
    # the package lists may be missing on a fresh machine
    if [ "$(id -u)" -eq 0 ]; then apt-get update >/dev/null; fi
    apt-get download dict-foldoc
fi
dpkg-deb -x dict-foldoc_*.deb extracted
mkdir -p "$DEST"
cp extracted/usr/share/dictd/foldoc.dict.dz extracted/usr/share/doc/dict-foldoc/copyright "$DEST/"
echo "retrieval corpus installed: FOLDOC in $DEST"
