"""The web side: create_app(config_class) binds config, extensions, faces and Celery.

The package imports nothing else when it is imported: the modules with no database in
them (app.services.agent_io, app.services.text), which agents and model providers
import, bring in only themselves (pyproject.toml's import-linter contracts; a test
checks the modules a provider loads)."""

import logging
from pathlib import Path

from flask import Flask

MIGRATIONS_DIRECTORY = str(Path(__file__).resolve().parent.parent / "migrations")


def create_app(config_class=None, **overrides) -> Flask:
    """The app, with app.config.Config (or `config_class`) and `overrides`."""
    from app import extensions
    from app.config import (Config, celery_settings, engine_options, parley_home,
                            stored_jwt_secret)
    from app.errors import register_error_handlers
    from app.extensions import celery_init_app, db, migrate
    from app import models  # noqa: F401 - every model, for Flask-Migrate
    from app.logs import configure as configure_logs
    from app.metrics import init_http_metrics
    from app.request_ids import init_request_ids
    from app.services import task_kinds
    from app.services.events import init_task_events
    from app.sqlite import configure_sqlite

    # No /static route of Flask's own: the files under app/static are served by the
    # routes that need them (the playground, the docs pages), with their headers.
    app = Flask(__name__, static_folder=None)
    app.config.from_object(config_class or Config)
    app.config.update(overrides)
    if not app.config.get("JWT_SECRET"):
        # Bearer tokens' secret: PARLEY_HOME's own when none is configured.
        app.config["JWT_SECRET"] = stored_jwt_secret(parley_home())
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    app.config.setdefault("CELERY", celery_settings(app.config, task_kinds))
    app.config.setdefault("ORG_CAPPED_KINDS", task_kinds.CAPPED_KINDS)
    configure_logs(app.config["LOG_FORMAT"])
    # One line per model request, from hundreds of threads, costs more than it tells.
    logging.getLogger("httpx2").setLevel(logging.WARNING)

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIRECTORY)
    with app.app_context():
        configure_sqlite(db.engine)
    init_http_metrics(app)  # first: its clock starts before every other hook
    init_request_ids(app)
    init_task_events(app)
    _register_faces(app)
    _register_probes(app)
    _register_playground(app)
    # After the faces: flask-smorest installs an HTTP error handler of its own, and
    # ours, which adds a readable message, must be the one that stays.
    register_error_handlers(app)
    celery_init_app(app)
    return app


def _register_probes(app: Flask) -> None:
    """/healthz, /readyz and /metrics: plain Flask routes, outside the faces and their
    keys."""
    from app.api.health.routes import blp as probes
    from app.api.metrics.routes import blp as metrics

    app.register_blueprint(probes)
    app.register_blueprint(metrics)


def _register_playground(app: Flask) -> None:
    """GET /: the playground page (README, Playground), outside the faces."""
    from app.api.playground.routes import blp as playground

    app.register_blueprint(playground)


def _register_faces(app: Flask) -> None:
    """Each face is a FaceBlueprint (app/api/face.py); registering it brings its routes,
    its error body and its part of the OpenAPI document."""
    from app import extensions
    from app.api.batches.routes import blp as batches
    from app.api.conversation_service.routes import blp as conversation_service
    from app.api.face import ErrorSchema
    from app.api.dialog_sessions.routes import blp as dialog_sessions
    from app.api.dialogues.routes import blp as dialogues
    from app.api.docs.routes import blp as docs_assets
    from app.api.polling.routes import blp as polling
    from app.api.tasks.routes import blp as task_events
    from app.api.webhooks.routes import blp as webhooks
    from app.auth import SECURITY_SCHEMES
    from app.cors import init_cors
    from app.rate_limits import init_rate_limits

    # Through the module: the name `api` in this package is the app.api subpackage.
    rest_api = extensions.api
    # flask-smorest documents errors with a schema of its own; ours (the same fields,
    # written by app.errors) takes its place, so the document has one `Error`.
    rest_api.ERROR_SCHEMA = ErrorSchema
    rest_api.init_app(app)  # with /openapi.json and its pages, /docs and /redoc
    app.register_blueprint(docs_assets)  # the pages' scripts and styles
    for name, scheme in SECURITY_SCHEMES.items():
        rest_api.spec.components.security_scheme(name, scheme)
    rest_api.register_blueprint(polling)
    rest_api.register_blueprint(task_events)
    rest_api.register_blueprint(batches)
    rest_api.register_blueprint(webhooks)
    rest_api.register_blueprint(dialogues)
    rest_api.register_blueprint(conversation_service)
    rest_api.register_blueprint(dialog_sessions)
    faces = (polling, task_events, batches, webhooks, dialogues, conversation_service,
             dialog_sessions)
    init_rate_limits(app, faces)
    init_cors(app, faces)
