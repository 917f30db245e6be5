FROM python:3.11-slim
WORKDIR /srv/parley
COPY pyproject.toml README.md ./
COPY app ./app
COPY workers ./workers
COPY migrations ./migrations
RUN pip install --no-cache-dir .
ENV PYTHONUNBUFFERED=1
EXPOSE 8000
# The web process answers (GET /healthz touches no dependency: a database or Redis
# outage does not make Docker take the API for dead). The image has no curl: Python.
# Containers of this image that serve no HTTP (worker, beat) turn it off (compose).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]
# The web process; its settings (port 8000 unless PORT says otherwise) are in
# app/gunicorn_conf.py, installed with the app.
CMD ["gunicorn", "-c", "python:app.gunicorn_conf", "app.wsgi:app"]
