#!/usr/bin/env bash
# A production-like run without Docker: the docker-compose.yml services as local processes.
#
#   scripts/prodlike.sh [SCENARIO.py]     (default: scripts/prodlike_scenario.py)
#
# DEBUG=0 production settings against the local PostgreSQL (a fresh database) and Redis (its own DB
# number): collectstatic (the image build step), migrate (the one-shot migrate service), then
# gunicorn + a Celery worker + Celery beat in the background. Waits for /readyz, runs the scenario
# (which talks HTTP to PRODLIKE_BASE_URL and may use the Django ORM with the same environment),
# then stops the three with SIGTERM and checks that each exited cleanly (status 0) within the
# grace period and that their logs are JSON lines carrying request and task ids.
#
# Environment: PYTHON (interpreter of the venv; its bin/ must hold gunicorn and celery),
# PRODLIKE_DB (qungui_prodlike), PG_ADMIN_URL (postgresql://postgres@127.0.0.1:5432/postgres),
# PRODLIKE_REDIS_URL (redis://127.0.0.1:6379/12), PRODLIKE_PORT (18080), KEEP_LOGS=1 to keep them.
# A local WeCom server API (portal/tests/wecom_api_server.py) stands in for WeCom: its base URL is
# PRODLIKE_WECOM_URL for the scenario; PRODLIKE_WECOM_PORT (18931), PRODLIKE_WECOM_GROUPS (40) ×
# PRODLIKE_WECOM_MEMBERS (8). The services get WECOM_* pointing at it (the settings the WeCom sync
# falls back to without a configured connection) and the scenario runs one sync through the worker.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SCENARIO="${1:-scripts/prodlike_scenario.py}"

# --- The service commands. docker-compose.yml runs exactly these (portal/tests/test_deploy.py). ---
CMD_MIGRATE="python manage.py migrate --noinput"
CMD_WEB="gunicorn --config python:portal.gunicorn_conf portal.wsgi"
CMD_WORKER="celery -A portal worker --loglevel INFO"
CMD_BEAT="celery -A portal beat --loglevel INFO"
CMD_COLLECTSTATIC="python manage.py collectstatic --noinput"  # Dockerfile, at build time

PYTHON="${PYTHON:-$( [[ -x "$ROOT/.venv/bin/python" ]] && echo "$ROOT/.venv/bin/python" || command -v python3)}"
export PATH="$(dirname "$PYTHON"):$PATH"  # python, gunicorn, celery: the venv's, as in the image
DB_NAME="${PRODLIKE_DB:-qungui_prodlike}"
PG_ADMIN_URL="${PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
PORT="${PRODLIKE_PORT:-18080}"
WECOM_PORT="${PRODLIKE_WECOM_PORT:-18931}"
WORK="$(mktemp -d /tmp/qungui-prodlike.XXXXXX)"
LOGS="$WORK/logs"
mkdir -p "$LOGS" "$WORK/var"

export DEBUG=0
export SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')"
export ALLOWED_HOSTS="127.0.0.1,localhost"
export DATABASE_URL="${PG_ADMIN_URL%/*}/$DB_NAME"
export REDIS_URL="${PRODLIKE_REDIS_URL:-redis://127.0.0.1:6379/12}"
export QUNGUI_VAR_DIR="$WORK/var" MEDIA_ROOT="$WORK/media" STATIC_ROOT="$WORK/static"
export GUNICORN_BIND="127.0.0.1:$PORT" WEB_CONCURRENCY=2 CELERY_WORKER_CONCURRENCY=2 LOG_FORMAT=json
export PRODLIKE_WECOM_URL="http://127.0.0.1:$WECOM_PORT/cgi-bin"
export PRODLIKE_BASE_URL="http://127.0.0.1:$PORT" PRODLIKE_LOGS="$LOGS" PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PRODLIKE_WECOM_GROUPS="${PRODLIKE_WECOM_GROUPS:-40}" PRODLIKE_WECOM_MEMBERS="${PRODLIKE_WECOM_MEMBERS:-8}"
export WECOM_API_BASE="$PRODLIKE_WECOM_URL" WECOM_CORP_ID="ww0123456789abcdef"
export WECOM_CONTACT_SECRET="customer-secret-for-tests" WECOM_DIRECTORY_SECRET="contacts-secret-for-tests"

declare -A PIDS=()
log() { echo "[prodlike $(date -u +%H:%M:%S)] $*" >&2; }

stop_all() {  # SIGTERM, wait for each, report its exit status; returns non-zero if any was unclean
  local failed=0 name pid status
  for name in "${!PIDS[@]}"; do kill -TERM "${PIDS[$name]}" 2>/dev/null || true; done
  for name in "${!PIDS[@]}"; do
    pid="${PIDS[$name]}"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name ($pid) still running 40 s after SIGTERM: killing it"; kill -KILL "$pid" || true; failed=1
    fi
    status=0; wait "$pid" || status=$?
    log "$name exited with status $status"; [[ "$status" == 0 ]] || failed=1
  done
  PIDS=()
  return "$failed"
}

cleanup() {
  local rc=$?
  ((${#PIDS[@]})) && { stop_all || true; }
  if [[ "${KEEP_LOGS:-0}" == 1 || "$rc" != 0 ]]; then log "logs kept in $LOGS"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

start() {  # start NAME COMMAND...: in the background, output to logs/NAME.log
  local name="$1"; shift
  "$@" >"$LOGS/$name.log" 2>&1 &
  PIDS[$name]=$!
  log "started $name (pid $!): $*"
}

log "fresh database $DB_NAME, Redis ${REDIS_URL##*/}, work dir $WORK"
psql "$PG_ADMIN_URL" -Xq -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" \
  -c "CREATE DATABASE \"$DB_NAME\""
python -c 'import os, redis; redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()'

$CMD_COLLECTSTATIC >"$LOGS/collectstatic.log" 2>&1
$CMD_MIGRATE >"$LOGS/migrate.log" 2>&1 || { cat "$LOGS/migrate.log" >&2; exit 1; }
start wecom python -m portal.tests.wecom_api_server --port "$WECOM_PORT" --groups "$PRODLIKE_WECOM_GROUPS" \
  --members-per-group "$PRODLIKE_WECOM_MEMBERS"
for i in $(seq 1 50); do  # up before the services that read WECOM_* start calling it
  python -c 'import os, urllib.request; urllib.request.urlopen(os.environ["WECOM_API_BASE"] + "/gettoken", timeout=1)' \
    2>/dev/null && break
  kill -0 "${PIDS[wecom]}" 2>/dev/null || { cat "$LOGS/wecom.log" >&2; log "WeCom server died"; exit 1; }
  [[ "$i" == 50 ]] && { log "WeCom server not up after 10 s"; exit 1; }
  sleep 0.2
done
start web $CMD_WEB
start worker $CMD_WORKER
start beat $CMD_BEAT

log "waiting for /readyz"
for i in $(seq 1 60); do
  if python -c 'import os, sys, urllib.request
sys.exit(0 if urllib.request.urlopen(os.environ["PRODLIKE_BASE_URL"] + "/readyz", timeout=2).status == 200 else 1)' 2>/dev/null
  then break; fi
  [[ "$i" == 60 ]] && { log "not ready after 60 s"; tail -n 20 "$LOGS"/*.log >&2; exit 1; }
  sleep 1
done

log "scenario: $SCENARIO"
scenario_rc=0
python "$SCENARIO" || scenario_rc=$?
stop_rc=0
stop_all || stop_rc=$?
python scripts/prodlike_logcheck.py "$LOGS" || { log "log check failed"; exit 1; }
[[ "$scenario_rc" == 0 ]] || { log "scenario failed ($scenario_rc)"; tail -n 30 "$LOGS"/*.log >&2; exit 1; }
[[ "$stop_rc" == 0 ]] || { log "a service did not stop cleanly"; exit 1; }
log "OK: scenario passed, all services stopped cleanly"
