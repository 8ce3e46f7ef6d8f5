#!/usr/bin/env bash
# Debian packages the test suite needs, installed only when missing (recipes: shared
# SETUP-NOTES.md). One `apt-get update` and one install for everything, so a fresh machine
# pays once and a prepared one spends no time.
#   postgresql                        the throwaway server of scripts/test-postgres.sh
#   chromium                          the browser tests (Playwright with executable_path;
#                                     never `playwright install`)
#   libpango-1.0-0 libpangoft2-1.0-0  WeasyPrint's PDF rendering
#   poppler-utils                     pdfinfo/pdftotext/pdftoppm, used by the report tests
set -euo pipefail

PACKAGES=(postgresql chromium libpango-1.0-0 libpangoft2-1.0-0 poppler-utils)
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "ensure-system-deps: missing ${missing[*]}; run as root: apt-get install ${missing[*]}" >&2
    exit 1
fi
echo "installing ${missing[*]} (Debian packages)" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
for pkg in "${missing[@]}"; do dpkg -s "$pkg" >/dev/null; done
