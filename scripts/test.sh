#!/usr/bin/env bash
# Install everything and run the whole test suite: lint, migrations check, then pytest on the
# embedded default (SQLite, eager Celery) and, when DATABASE_URL is set, again on PostgreSQL (with
# REDIS_URL: real Celery worker tests too). With both set, last the production-like run:
# scripts/prodlike.sh starts gunicorn + a Celery worker + beat with DEBUG=0 against a fresh database
# on the same PostgreSQL server and its own Redis DB, drives a month over HTTP and stops them.
# Browser tests use Debian's Chromium (installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh requirements-dev.txt

if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "CJK"; then
  echo "== installing Debian's chromium and CJK fonts for the browser tests"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  # Another apt/dpkg run (unattended upgrades, a second terminal) holds the lock: wait, don't fail.
  APT_WAIT=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
  $SUDO apt-get "${APT_WAIT[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${APT_WAIT[@]}" install -y -qq chromium fonts-noto-cjk >/dev/null
fi

echo "== ruff"
ruff check .
ruff format --check .

PG_URL="${DATABASE_URL:-}"
R_URL="${REDIS_URL:-}"
LEFT_OUT=()
[ -n "$PG_URL" ] || LEFT_OUT+=("the PostgreSQL phase (set DATABASE_URL=postgres://…)")
[ -n "$PG_URL" ] && [ -n "$R_URL" ] || LEFT_OUT+=("real-Celery-worker tests and the production-like run (set DATABASE_URL and REDIS_URL)")

echo "== mypy (core and services)"
env -u DATABASE_URL -u REDIS_URL mypy

echo "== migrations are complete"
env -u DATABASE_URL -u REDIS_URL python manage.py makemigrations --check --dry-run

echo "== translations compile"
env -u DATABASE_URL -u REDIS_URL python manage.py compilemessages -l en --ignore=.venv -v0 2>/dev/null \
  || echo "   (gettext not installed: using the committed .mo files)"

echo "== tests on the embedded default (SQLite, eager Celery)"
env -u DATABASE_URL -u REDIS_URL pytest -q -n 2 --dist loadfile "$@"

if [ -n "$PG_URL" ]; then
  echo "== tests on PostgreSQL${R_URL:+ with a real Celery worker on Redis}"
  DATABASE_URL="$PG_URL" REDIS_URL="$R_URL" pytest -q -n 2 --dist loadfile "$@"
fi

if [ -n "$PG_URL" ] && [ -n "$R_URL" ]; then
  echo "== production-like run: gunicorn + Celery worker + beat, DEBUG=0, a month over HTTP"
  # A fresh database on the server of DATABASE_URL (created from its maintenance DB "postgres"),
  # Redis DB 12 on the server of REDIS_URL (flushed: not the one the tests use).
  PG_SERVER="${PG_URL%%\?*}"; PG_SERVER="${PG_SERVER%/*}"
  [[ "$R_URL" =~ ^(rediss?://[^/]+) ]] && R_SERVER="${BASH_REMATCH[1]}" || R_SERVER="redis://127.0.0.1:6379"
  PYTHON="$PWD/.venv/bin/python" PG_ADMIN_URL="${PG_ADMIN_URL:-postgresql://${PG_SERVER#*://}/postgres}" \
    PRODLIKE_REDIS_URL="${PRODLIKE_REDIS_URL:-$R_SERVER/12}" bash scripts/prodlike.sh
fi

if [ ${#LEFT_OUT[@]} -gt 0 ]; then
  echo "== left out of this run:"
  printf '   - %s\n' "${LEFT_OUT[@]}"
  echo "   (each pytest run above lists the tests it left out under 'left out')"
fi
