#!/usr/bin/env bash
# Install everything and run the portal with a demo company (embedded default: SQLite, in-process
# Celery). Prints the demo logins. Usage: ./scripts/run.sh   (PORT=8000 HOST=127.0.0.1 to change)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh requirements.txt
python manage.py migrate --noinput -v0
python manage.py seed_demo
echo
echo "Qungui 群规: http://${HOST:-127.0.0.1}:${PORT:-8000}/   (admin: /admin/)"
exec python manage.py runserver "${HOST:-127.0.0.1}:${PORT:-8000}"
