"""The worker's entry point: `celery -A workers.celery_app worker` (and beat, flower)."""

from celery.signals import worker_init

from app import create_app
from workers import tasks  # noqa: F401 - registers the tasks with Celery
from workers.llm import get_provider

flask_app = create_app()
celery_app = flask_app.extensions["celery"]


@worker_init.connect
def build_model_provider(**_) -> None:
    """Build the model provider (and import its SDK, about a second) as the worker
    starts, rather than inside the first task while every other slot waits for it."""
    get_provider(flask_app.config)
