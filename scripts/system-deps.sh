#!/usr/bin/env bash
# Installs the Debian packages the app needs, when they are missing.
#   run:  Pango and fonts (WeasyPrint renders certificates with them)
#   test: the above, plus Chromium (browser tests), poppler-utils (PDF checks) and
#         Node.js with npm (credentials checked by an independent verifier)
# As root it installs them with apt-get; otherwise it stops and prints the command.
set -euo pipefail
mode="${1:-run}"
missing=()

have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }

have_lib 'libpango-1.0.so.0' || missing+=(libpango-1.0-0)
have_lib 'libpangoft2-1.0.so.0' || missing+=(libpangoft2-1.0-0)
have_lib 'libharfbuzz-subset.so.0' || missing+=(libharfbuzz-subset0)
[ -d /usr/share/fonts/truetype/dejavu ] || missing+=(fonts-dejavu-core)

if [ "$mode" = "test" ]; then
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
  # The credential tests verify with the Digital Credentials Consortium's JavaScript
  # libraries (tests/js, installed there by `npm ci` on the first run).
  command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages: ${missing[*]}" >&2
  echo "Install them with:  sudo sh -c '$cmd'" >&2
  exit 1
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
