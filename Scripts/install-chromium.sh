#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium for the page checks, if it is missing.
set -euo pipefail
command -v chromium >/dev/null && exit 0
if [[ $(id -u) -ne 0 ]]; then
    echo "error: chromium is missing — run: sudo apt-get install chromium" >&2
    exit 1
fi
echo "installing chromium (Debian package) for the page checks"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
