# Qungui web/worker/beat image. One image, three commands (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# postgresql-client: pg_dump/pg_restore/psql for scripts/backup.sh and restore.sh (Debian 12: v15,
# the same major version as the postgres:15 service). gettext: compilemessages.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client gettext \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 qungui \
    && useradd --system --uid 10001 --gid qungui --home-dir /app --shell /usr/sbin/nologin qungui

WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .

# Static files are collected into the image (hashed names, served by WhiteNoise). Settings refuse
# DEBUG=0 without a real key, so this one step gets a throwaway key that is not kept in the image.
RUN DEBUG=0 ALLOWED_HOSTS=build QUNGUI_VAR_DIR=/tmp/build STATIC_ROOT=/app/staticfiles \
      SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
      sh -c 'python manage.py collectstatic --noinput && if [ -d locale ]; then python manage.py compilemessages; fi' \
    && rm -rf /tmp/build \
    && mkdir -p /var/lib/qungui/media /backups \
    && chown -R qungui:qungui /var/lib/qungui /backups

ENV DEBUG=0 \
    QUNGUI_VAR_DIR=/var/lib/qungui \
    MEDIA_ROOT=/var/lib/qungui/media \
    STATIC_ROOT=/app/staticfiles \
    GUNICORN_BIND=0.0.0.0:8000

USER qungui
EXPOSE 8000
# Health checks are per service in docker-compose.yml (worker and beat serve no HTTP).
CMD ["gunicorn", "--config", "python:portal.gunicorn_conf", "portal.wsgi"]
