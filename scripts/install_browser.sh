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

sh "$(dirname "$0")/apt_install.sh" "MiniWoB++ (about a minute)" chromium chromium-driver

if [ ! -x "$CHROMIUM" ] || [ ! -x "$CHROMEDRIVER" ]; then
    echo "chromium or chromedriver is still missing after the install: expected $CHROMIUM and $CHROMEDRIVER" >&2
    exit 1
fi
echo "browser ok: $("$CHROMIUM" --version 2>/dev/null | head -n 1)"
