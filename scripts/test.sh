#!/usr/bin/env bash
# Install what the tests need (pip packages in .venv; Debian's chromium, poppler-utils,
# fonts-dejavu-core and Pango for the PDF handbook, wrk for the benchmarks' smoke test, gdal-bin
# for the GIS client tests (tests/test_gis_clients.py: ogrinfo, ogr2ogr), nginx and openssl for
# the reverse proxy with TLS (tests/test_proxy.py); axe-core
# from npm for the accessibility tests) and run every test.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

# The handbook's PDF needs WeasyPrint's libraries (Pango) and a font covering Vietnamese
# (DejaVu Sans); its tests read the PDF with poppler-utils.
NEED=""
if [ ! -x /usr/bin/chromium ] && ! command -v chromium >/dev/null 2>&1; then NEED=1; fi
for pkg in poppler-utils fonts-dejavu-core libpango-1.0-0 libpangoft2-1.0-0 wrk gdal-bin nginx openssl; do
    dpkg -s "$pkg" >/dev/null 2>&1 || NEED=1
done
if [ -n "$NEED" ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils wrk \
        gdal-bin fonts-dejavu-core libpango-1.0-0 libpangoft2-1.0-0 nginx openssl >/dev/null
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements-test.txt
# axe-core (package.json, pinned by package-lock.json) checks the pages in Chromium
# (tests/axe.py); a test tool only, nothing the app serves.
[ -d node_modules/axe-core ] || npm ci --no-audit --no-fund --silent
exec .venv/bin/python -m pytest "$@"
