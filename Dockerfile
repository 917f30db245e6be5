FROM python:3.11-slim
WORKDIR /srv/parley
COPY pyproject.toml README.md ./
COPY app ./app
COPY workers ./workers
COPY migrations ./migrations
RUN pip install --no-cache-dir .
ENV PYTHONUNBUFFERED=1
EXPOSE 8000
# The web process; its settings (port 8000 unless PORT says otherwise) are in
# app/gunicorn_conf.py, installed with the app.
CMD ["gunicorn", "-c", "python:app.gunicorn_conf", "app.wsgi:app"]
