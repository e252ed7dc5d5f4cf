# Runway's production image. The default command serves the web app with uvicorn; the same
# image runs migrations, the Celery worker and Celery beat (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONPATH=/app

WORKDIR /app

RUN groupadd --system --gid 10001 runway \
 && useradd --system --uid 10001 --gid runway --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin runway

# Runtime dependencies at the versions in requirements.lock, without the dev extras. Only the
# project metadata is copied here, with empty package stubs, so this layer is rebuilt only when
# pyproject.toml or requirements.lock change. The stub install is then removed: Runway runs from
# its source in /app (PYTHONPATH), where settings find templates/ and static/ beside the code.
COPY pyproject.toml requirements.lock README.md ./
RUN mkdir portal apps \
 && touch portal/__init__.py apps/__init__.py \
 && pip install -c requirements.lock . \
 && pip uninstall --yes runway \
 && rm -rf portal apps build runway.egg-info

COPY . .

# Settings are strict with DEBUG off, so this step alone gets throwaway values; no database or
# broker is contacted. WhiteNoise serves the result from var/static. The code and the static
# files stay owned by root; only var/ itself is writable by the runtime user.
RUN DEBUG=0 \
    SECRET_KEY=build-only-collectstatic-key-never-used-at-runtime-0123456789 \
    RUNWAY_ENCRYPTION_KEY=build-only-encryption-key-never-used-at-runtime \
    RUNWAY_AUDIT_KEY=build:build-only-audit-key-never-used-at-runtime \
    ALLOWED_HOSTS=build.invalid \
    DATABASE_URL=postgres://build@build.invalid/build \
    CELERY_BROKER_URL=redis://build.invalid:6379/0 \
    python manage.py collectstatic --noinput \
 && chown runway:runway var \
 && mkdir -p /var/lib/runway-audit && chown runway:runway /var/lib/runway-audit

USER runway

EXPOSE 8000

CMD ["uvicorn", "portal.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
