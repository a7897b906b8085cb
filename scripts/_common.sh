# Shared by backup.sh and restore.sh: where the database and the evidence files are.
# Same environment as the app (portal/settings.py): DATABASE_URL (PostgreSQL) or SQLite under
# QUNGUI_VAR_DIR; MEDIA_ROOT (uploaded evidence and import files).

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR_DIR="${QUNGUI_VAR_DIR:-$ROOT_DIR/var}"
MEDIA_DIR="${MEDIA_ROOT:-$VAR_DIR/media}"
SQLITE_FILE="${SQLITE_PATH:-$VAR_DIR/qungui.sqlite3}"
PYTHON="${PYTHON:-python3}"

die() { echo "error: $*" >&2; exit 1; }
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

# libpq understands postgres:// and postgresql://; dj-database-url also accepts pgsql:// and postgis://.
libpq_url() {
  case "$1" in
    postgres://*|postgresql://*) printf '%s' "$1" ;;
    pgsql://*|postgis://*) printf 'postgresql://%s' "${1#*://}" ;;
    *) die "DATABASE_URL is not a PostgreSQL URL: ${1%%://*}://…" ;;
  esac
}
