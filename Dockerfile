# Production-style image for the visualizer. Build from the repo root: docker build -t wsk-close-visualizer .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /srv/app --no-create-home --shell /usr/sbin/nologin app

WORKDIR /srv/app

# Templates, static files, scenarios and lessons are read relative to the repo root (the WORKDIR).
COPY pyproject.toml ./
COPY app ./app
COPY templates ./templates
COPY static ./static
COPY scenarios ./scenarios
COPY lessons ./lessons

# Runtime dependency versions are bounded in pyproject.toml.
RUN pip install --no-cache-dir . \
    && mkdir -p /srv/app/var \
    && chown 10001:10001 /srv/app/var

# Numeric uid:gid of the 'app' user created above.
USER 10001:10001

EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3).status == 200 else 1)"]

CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
