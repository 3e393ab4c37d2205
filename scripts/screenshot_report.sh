#!/usr/bin/env bash
# Render a report page in headless Chromium (Debian's chromium package) and
# write a PNG screenshot of it.
#
#   bash scripts/screenshot_report.sh REPORT.html [OUT.png] [WIDTHxHEIGHT]
#
# Defaults: OUT = REPORT's folder/screenshot.png, window 1280x2400. Needs no
# network: the page is self-contained (figures are data URIs). Exit status 0
# only when the screenshot file was written and is not empty.
set -euo pipefail
page="${1:?usage: screenshot_report.sh REPORT.html [OUT.png] [WIDTHxHEIGHT]}"
out="${2:-$(dirname "$page")/screenshot.png}"
size="${3:-1280x2400}"
browser="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$browser" ]; then
  echo "screenshot_report.sh: chromium not found (apt-get install chromium)" >&2
  exit 3
fi
[ -f "$page" ] || { echo "screenshot_report.sh: no such page: $page" >&2; exit 2; }
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
url="file://$(cd "$(dirname "$page")" && pwd)/$(basename "$page")"
rm -f "$out"
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --hide-scrollbars --user-data-dir="$profile" --screenshot="$out" \
  --window-size="${size/x/,}" "$url" >/dev/null 2>&1 || true
if [ ! -s "$out" ]; then
  echo "screenshot_report.sh: chromium wrote no screenshot for $url" >&2
  exit 1
fi
echo "$out"
