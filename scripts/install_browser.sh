#!/bin/sh
# Install the headless browser MiniWoB++ runs in: Debian's chromium and chromium-driver.
# Idempotent: does nothing when both are already installed. Needs root (or sudo) to install.
set -eu

CHROMIUM="${MINIWOB_CHROME_BINARY:-/usr/bin/chromium}"
CHROMEDRIVER="${MINIWOB_CHROMEDRIVER:-/usr/bin/chromedriver}"

if [ -x "$CHROMIUM" ] && [ -x "$CHROMEDRIVER" ]; then
    echo "browser ok: $CHROMIUM, $CHROMEDRIVER"
    exit 0
fi

INSTALL="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver"

if [ "$(id -u)" -eq 0 ]; then
    echo "installing chromium and chromium-driver (about a minute) ..."
    sh -c "$INSTALL"
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    echo "installing chromium and chromium-driver with sudo (about a minute) ..."
    sudo sh -c "$INSTALL"
else
    echo "MiniWoB++ needs chromium and chromium-driver; as root, run:" >&2
    echo "    $INSTALL" >&2
    exit 1
fi

if [ ! -x "$CHROMIUM" ] || [ ! -x "$CHROMEDRIVER" ]; then
    echo "chromium or chromedriver is still missing after the install: expected $CHROMIUM and $CHROMEDRIVER" >&2
    exit 1
fi
echo "browser ok: $("$CHROMIUM" --version 2>/dev/null | head -n 1)"
