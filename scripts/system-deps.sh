#!/usr/bin/env bash
# Debian packages the test suite uses beyond Python: R (R scripts), Chromium (report snapshots,
# web UI tests). Installs only what is missing, and only where it can (root and apt-get); the tests
# that need a missing one are skipped with a message naming the package.
set -uo pipefail
want=()
command -v Rscript >/dev/null 2>&1 || want+=(r-base-core)
command -v chromium >/dev/null 2>&1 || want+=(chromium)
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: missing ${want[*]} (install them with apt-get as root); their tests will be skipped" >&2
  exit 0
fi
echo "system-deps: installing ${want[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "${want[@]}" >/tmp/civica-system-deps.log 2>&1 \
  || { apt-get update -q >>/tmp/civica-system-deps.log 2>&1 \
       && apt-get install -y -q --no-install-recommends "${want[@]}" >>/tmp/civica-system-deps.log 2>&1; } \
  || echo "system-deps: could not install ${want[*]} (see /tmp/civica-system-deps.log); their tests will be skipped" >&2
exit 0
