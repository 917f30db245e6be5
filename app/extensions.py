"""Extensions live at module level and are bound to an app in create_app()."""

from celery import Celery, Task
from flask import Flask
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names so Alembic revisions are reproducible on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Full-text search structures the migrations create by hand, per database (see
# app/services/search.py); autogenerate must not propose to drop them.
SEARCH_INDEX_OBJECTS = {"passages_fts", "ix_passages_search", "search_vector"}


def include_in_autogenerate(obj, name, type_, reflected, compare_to) -> bool:
    return not (name or "").startswith(tuple(SEARCH_INDEX_OBJECTS))


db = SQLAlchemy(model_class=Base)
migrate = Migrate(include_object=include_in_autogenerate, render_as_batch=True)
api = Api()


def celery_init_app(app: Flask) -> Celery:
    """Flask's documented pattern: every task runs inside the app context."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                try:
                    return self.run(*args, **kwargs)
                finally:
                    # Hand the connection back to the pool between tasks.
                    db.session.remove()

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
