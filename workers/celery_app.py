"""The worker's entry point: `celery -A workers.celery_app worker` (and beat, flower)."""

from app import create_app
from workers import tasks  # noqa: F401 - registers the tasks with Celery

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
