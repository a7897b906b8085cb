#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into an EMPTY database and an empty MEDIA_ROOT.
#
#   scripts/restore.sh BACKUP_PATH
#
# Uses the same environment as the app: DATABASE_URL names the (new, empty) PostgreSQL database,
# e.g. after `createdb qungui_restored`; without DATABASE_URL the SQLite file (SQLITE_PATH) must not
# exist yet. Refuses to write over data: restoring is for a new or rebuilt server, or a drill.
# Afterwards run `python manage.py migrate` (a no-op for a backup of the same version; applies the
# newer migrations when restoring an older backup into a newer release).
set -euo pipefail
umask 077
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

backup="${1:-}"
[[ -n "$backup" && -d "$backup" ]] || die "usage: restore.sh BACKUP_PATH (a directory made by backup.sh)"
(cd "$backup" && sha256sum --quiet --check SHA256SUMS) || die "checksum mismatch in $backup: refusing to restore"
db_kind="$(sed -n 's/^database=//p' "$backup/manifest.txt")"

if [[ -n "$(ls -A "$MEDIA_DIR" 2>/dev/null)" ]]; then
  die "MEDIA_ROOT $MEDIA_DIR is not empty: refusing to overwrite evidence files"
fi

if [[ "$db_kind" == postgresql ]]; then
  [[ -n "${DATABASE_URL:-}" ]] || die "backup holds a PostgreSQL dump: set DATABASE_URL to the empty target database"
  url="$(libpq_url "$DATABASE_URL")"
  tables="$(psql "$url" -XtAc "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")"
  [[ "$tables" == 0 ]] || die "target database is not empty ($tables tables): create a new one (createdb) first"
  log "pg_restore db.dump"
  pg_restore --no-owner --no-privileges --exit-on-error --single-transaction --dbname="$url" "$backup/db.dump"
elif [[ "$db_kind" == sqlite ]]; then
  [[ -z "${DATABASE_URL:-}" ]] || die "backup holds a SQLite database but DATABASE_URL is set"
  [[ ! -e "$SQLITE_FILE" ]] || die "SQLite file $SQLITE_FILE exists: refusing to overwrite it"
  mkdir -p "$(dirname "$SQLITE_FILE")"
  cp "$backup/db.sqlite3" "$SQLITE_FILE"
else
  die "unknown database kind in $backup/manifest.txt: ${db_kind:-none}"
fi

log "untar media.tar.gz → $MEDIA_DIR"
mkdir -p "$MEDIA_DIR"
tar -C "$MEDIA_DIR" -xzf "$backup/media.tar.gz"
log "restore complete: now run 'python manage.py migrate'"
