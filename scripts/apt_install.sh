#!/bin/sh
# Install Debian packages as root (or with sudo): scripts/apt_install.sh "WHAT FOR" PKG...
# The callers check first and call this only for what is missing.
set -eu
WHY="$1"; shift
INSTALL="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $*"
if [ "$(id -u)" -eq 0 ]; then
    echo "installing $* for $WHY ..."
    sh -c "$INSTALL"
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    echo "installing $* for $WHY with sudo ..."
    sudo sh -c "$INSTALL"
else
    echo "$WHY needs $*; as root, run:" >&2
    echo "    $INSTALL" >&2
    exit 1
fi
