#!/usr/bin/env bash
# Browser tests of the web UI: Debian's Chromium driven by Playwright against the real server
# binary (offline engine, fresh temporary SQLite database, rate limits on).
# Usage: e2e/run.sh [playwright test arguments, e.g. tests/journey.spec.ts or -g "escalate"]
# Screenshots of every page land in e2e/artifacts/screenshots/, the HTML report in
# e2e/artifacts/report/, the server's log in e2e/artifacts/server.log.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  echo "==> installing Debian's Chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

echo "==> npm ci (Playwright without a browser of its own)"
npm ci --no-audit --no-fund --loglevel=error

echo "==> cargo build -p flowpilot"
(cd .. && cargo build -p flowpilot)

echo "==> playwright test"
exec npx --no-install playwright test "$@"
