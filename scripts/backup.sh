#!/usr/bin/env bash
# Back up Qungui: the database (pg_dump custom format, or the SQLite file) and MEDIA_ROOT
# (evidence screenshots, import files) into one new directory, with SHA256SUMS.
#
#   scripts/backup.sh [BACKUP_DIR]        (default: $BACKUP_DIR or ./backups)
#
# Prints the new backup's path on stdout. The directory appears complete or not at all (written
# under a temporary name, renamed at the end). Files are readable by the owner only: they hold
# personal data (PIPL). Run it from cron or the host's timer; with docker compose:
#   docker compose run --rm --no-deps web scripts/backup.sh /backups
set -euo pipefail
umask 077
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

dest_root="${1:-${BACKUP_DIR:-./backups}}"
mkdir -p "$dest_root"
name="qungui-$(date -u +%Y%m%dT%H%M%SZ)"
work="$(mktemp -d "$dest_root/.${name}.XXXXXX")"
trap 'rm -rf "$work"' EXIT

if [[ -n "${DATABASE_URL:-}" ]]; then
  log "pg_dump → db.dump"
  pg_dump --format=custom --no-owner --no-privileges --dbname="$(libpq_url "$DATABASE_URL")" --file="$work/db.dump"
  db_kind=postgresql
else
  [[ -f "$SQLITE_FILE" ]] || die "no DATABASE_URL and no SQLite file at $SQLITE_FILE"
  log "SQLite online backup → db.sqlite3"
  "$PYTHON" -c 'import sqlite3, sys
src, dst = sqlite3.connect(sys.argv[1]), sqlite3.connect(sys.argv[2])
src.backup(dst); dst.close(); src.close()' "$SQLITE_FILE" "$work/db.sqlite3"
  db_kind=sqlite
fi

log "tar MEDIA_ROOT ($MEDIA_DIR) → media.tar.gz"
if [[ -d "$MEDIA_DIR" ]]; then
  tar -C "$MEDIA_DIR" -czf "$work/media.tar.gz" .
else
  tar -czf "$work/media.tar.gz" -T /dev/null
fi

{
  echo "created=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "database=$db_kind"
  echo "media_files=$(tar -tzf "$work/media.tar.gz" | grep -vc '/$' || true)"
  echo "git_revision=$(git -C "$ROOT_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
} > "$work/manifest.txt"
(cd "$work" && sha256sum -- * > SHA256SUMS)

mv "$work" "$dest_root/$name"
trap - EXIT
log "backup complete"
echo "$dest_root/$name"
