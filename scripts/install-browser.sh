#!/usr/bin/env bash
# Make sure Debian's chromium is installed for tests/test_browser.py (playwright drives it; it cannot download its
# own browser here). Idempotent: does nothing when /usr/bin/chromium exists. Needs root (or sudo without a password)
# to install; otherwise it says how and exits 0, and the browser tests skip (or fail under CI).
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    echo "install-browser: $CHROMIUM is missing and this is not root: run as root" \
         "'apt-get update && apt-get install -y --no-install-recommends chromium'" \
         "(tests/test_browser.py skips without it, and fails under CI)" >&2
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: $CHROMIUM is missing and there is no apt-get: install Chromium at $CHROMIUM by hand" >&2
    exit 0
fi

echo "install-browser: installing Debian's chromium for the browser tests"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
test -x "$CHROMIUM" || { echo "install-browser: apt-get installed chromium but $CHROMIUM is missing" >&2; exit 1; }
echo "install-browser: $("$CHROMIUM" --version 2>/dev/null)"
