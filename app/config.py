"""Settings, read once from the environment. Every setting is listed in the README."""

import json
import os
import secrets
import tempfile
from pathlib import Path

from kombu import Exchange, Queue

from app.broker import TRANSPORT as BROKER_TRANSPORT
from app.services.agent_io import OFFLINE_MODEL_NAME


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


# EUR per million tokens (input, output) by model-name prefix: Anthropic's list prices
# in USD at 0.92 EUR; the offline model costs nothing (app/services/pricing.py).
DEFAULT_PRICES_EUR = {
    "claude-opus": (4.60, 23.00),
    "claude-sonnet": (2.76, 13.80),
    "claude-haiku": (0.92, 4.60),
    "claude": (2.76, 13.80),  # any other Claude model: priced as Sonnet
    OFFLINE_MODEL_NAME: (0.0, 0.0),
}


def _prices(setting: str | None) -> dict[str, tuple[float, float]]:
    if not setting:
        return dict(DEFAULT_PRICES_EUR)
    return {prefix: (float(prices[0]), float(prices[1]))
            for prefix, prices in json.loads(setting).items()}


# Requests per API key, per face: generous, to stop a runaway client, not to meter
# use. The polling face's is the highest: a client polling task status (the status
# benchmark sends about 1,400 a second with one key) and batches count there.
DEFAULT_RATE_LIMITS = {
    "polling": "200000 per minute",
    "dialogues": "60000 per minute",
    "conversation_service": "60000 per minute",
    "dialog_sessions": "60000 per minute",
}


def parley_home() -> Path:
    """Where the embedded default keeps its SQLite file, broker data and beat schedule."""
    return Path(os.environ.get("PARLEY_HOME", "instance")).resolve()


def stored_jwt_secret(home: Path) -> str:
    """Bearer tokens' secret when PARLEY_JWT_SECRET is unset: `home`/jwt-secret."""
    return stored_secret(home, "jwt-secret", setting="PARLEY_JWT_SECRET")


def stored_secret(home: Path, name: str, setting: str | None = None) -> str:
    """The secret in the file `home`/`name`, generated (mode 0600) on first use.
    Processes starting at once agree: each writes a whole file of its own, then links
    it to the name; the first link wins and the others read the winner's. `setting`:
    the environment variable that replaces the file, named in the error of an empty
    one."""
    path = home / name
    try:
        return _read_secret(path, setting)
    except FileNotFoundError:
        pass
    home.mkdir(parents=True, exist_ok=True)
    descriptor, draft = tempfile.mkstemp(dir=home, prefix=f".{name}.")  # mode 0600
    try:
        secret = secrets.token_urlsafe(48)
        with os.fdopen(descriptor, "w") as file:
            file.write(secret + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            return _read_secret(path, setting)
        except OSError:  # a filesystem without hard links: create the name exclusively
            return _create_exclusively(path, secret, setting)
        return secret
    finally:
        os.unlink(draft)


def _create_exclusively(path: Path, secret: str, setting: str | None) -> str:
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret(path, setting)
    with os.fdopen(descriptor, "w") as file:
        file.write(secret + "\n")
    return secret


def _read_secret(path: Path, setting: str | None) -> str:
    secret = path.read_text().strip()
    if not secret:
        instead = f", or set {setting}" if setting else ""
        raise RuntimeError(f"{path} is empty: delete it{instead}.")
    return secret


def database_url() -> str:
    """DATABASE_URL, defaulting to SQLite under PARLEY_HOME. Plain postgres:// URLs (as
    hosting platforms give them) are pointed at the psycopg 3 driver Parley installs."""
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{parley_home() / 'parley.db'}"
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    return url


# A current model of the SDK's list (anthropic.types.ModelParam), not a deprecated one:
# a worker warns at start of any deprecated model it may call.
DEFAULT_CLAUDE_MODEL = "claude-sonnet-5-5"


def default_llm() -> str:
    return "anthropic" if os.environ.get("ANTHROPIC_API_KEY") else "offline"


class Config:
    SQLALCHEMY_DATABASE_URI = database_url()
    # Each worker thread holds a connection only for its short reads and writes, never
    # while the model thinks, so a small pool serves hundreds of replies in flight.
    # The production shape (two web and two worker processes) then opens at most
    # 4 x 20 = 80 connections, inside PostgreSQL's default max_connections of 100 with
    # room for beat, migrations and psql (README, Production).
    # No pre-ping round trip per request: a connection found dead fails its request with
    # a 503 (a task retries it) and the pool is renewed, so the API recovers by itself
    # when the database does.
    SQLALCHEMY_ENGINE_OPTIONS = {
        "pool_size": _env_int("PARLEY_DB_POOL_SIZE", 8),
        "max_overflow": _env_int("PARLEY_DB_MAX_OVERFLOW", 12),
        # A thread that finds no free connection in this time fails its step, which
        # a task retries (app/services/lifecycle.py) and the API answers with a 503.
        "pool_timeout": _env_float("PARLEY_DB_POOL_TIMEOUT", 10.0),
    }
    # PostgreSQL only (engine_options): a server that does not answer is given up on
    # after this many seconds, rather than never (libpq's default), so every wait on
    # the database ends and is retried.
    DB_CONNECT_TIMEOUT_SECONDS = _env_int("PARLEY_DB_CONNECT_TIMEOUT", 5)
    # The broker and the per-task event streams. `parley up` starts an embedded
    # server and sets this when it is missing.
    REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

    # Log lines: "json" (one object per line) or "text"; unset, text when stderr is a
    # terminal and json otherwise (app/logs.py).
    LOG_FORMAT = os.environ.get("PARLEY_LOG_FORMAT") or None

    MAX_CONTENT_LENGTH = _env_int("PARLEY_MAX_BODY_BYTES", 1_048_576)
    # Requests per API key to each face (app/rate_limits.py), as limit strings
    # ("2000/second", "100000 per minute; 5000 per second"); empty: no limit.
    RATE_LIMITS = {face: os.environ.get(f"PARLEY_RATE_LIMIT_{face.upper()}", default)
                   for face, default in DEFAULT_RATE_LIMITS.items()}
    # Browser pages allowed to call the API (app/cors.py): origins (scheme://host[:port])
    # separated by commas, or *; none by default, and then no CORS headers at all.
    CORS_ORIGINS = [origin.strip() for origin in os.environ.get(
        "PARLEY_CORS_ORIGINS", "").split(",") if origin.strip()]
    # How long a process trusts a key it found valid (a revocation elsewhere takes this long).
    AUTH_CACHE_SECONDS = _env_float("PARLEY_AUTH_CACHE_SECONDS", 10.0)
    # Bearer tokens (app/services/tokens.py) are JWTs signed (HS256) with this secret.
    # Unset, create_app keeps one generated in PARLEY_HOME's jwt-secret file, which the
    # processes sharing that folder share; set it, the same everywhere, when the API runs
    # on more than one machine. Changing it ends every token issued so far.
    JWT_SECRET = os.environ.get("PARLEY_JWT_SECRET") or None
    # The tokens' audience ("aud"): a token made for another audience is refused.
    JWT_AUDIENCE = os.environ.get("PARLEY_JWT_AUDIENCE", "parley")
    # How long a token lives, in seconds (revoking its key ends it sooner).
    JWT_TTL_SECONDS = _env_int("PARLEY_JWT_TTL", 900)
    MAX_QUESTION_CHARS = 10_000
    # A batch (POST /api/batches): its requests, and its body's bytes (the one body
    # allowed over PARLEY_MAX_BODY_BYTES).
    BATCH_MAX_REQUESTS = _env_int("PARLEY_BATCH_MAX_REQUESTS", 10_000)
    BATCH_MAX_BODY_BYTES = _env_int("PARLEY_BATCH_MAX_BODY_BYTES", 64 * 1_048_576)
    # How much lower a worker's CPU priority is than the API's (nice), and a worker of
    # the batch queue alone lower still, by BATCH_NICE more (workers/celery_app.py).
    WORKER_NICE = _env_int("PARLEY_WORKER_NICE", 10)
    BATCH_NICE = _env_int("PARLEY_BATCH_NICE", 10)

    LLM_PROVIDER = os.environ.get("PARLEY_LLM") or default_llm()
    ANTHROPIC_API_KEY = os.environ.get("ANTHROPIC_API_KEY")
    ANTHROPIC_BASE_URL = os.environ.get("ANTHROPIC_BASE_URL")
    ANTHROPIC_MODEL = os.environ.get("ANTHROPIC_MODEL", DEFAULT_CLAUDE_MODEL)
    # The Claude models chat sessions can choose (`parley models` adds more).
    CLAUDE_MODELS = [name.strip() for name in os.environ.get(
        "PARLEY_CLAUDE_MODELS", ANTHROPIC_MODEL).split(",") if name.strip()]
    # The offline model streams its answer in small chunks, this far apart.
    OFFLINE_CHUNK_DELAY_SECONDS = _env_float("PARLEY_OFFLINE_CHUNK_DELAY", 0.02)
    LLM_MAX_TOKENS = _env_int("PARLEY_LLM_MAX_TOKENS", 1024)
    # The longest a model call may take, in all (and the longest wait for its next bytes).
    LLM_TIMEOUT_SECONDS = _env_float("PARLEY_LLM_TIMEOUT", 60.0)

    # Transient model errors are retried by Celery: delay = base * 2**attempt, capped.
    REPLY_MAX_RETRIES = _env_int("PARLEY_REPLY_MAX_RETRIES", 5)
    RETRY_BACKOFF_SECONDS = _env_float("PARLEY_RETRY_BACKOFF", 2.0)
    RETRY_BACKOFF_MAX_SECONDS = _env_float("PARLEY_RETRY_BACKOFF_MAX", 60.0)
    # Each worker process beats a heartbeat this often; one silent for the TTL is dead,
    # and the sweep re-queues the tasks it held (app/services/presence.py).
    WORKER_HEARTBEAT_INTERVAL = _env_float("PARLEY_WORKER_HEARTBEAT_INTERVAL", 2.0)
    WORKER_HEARTBEAT_TTL = _env_float("PARLEY_WORKER_HEARTBEAT_TTL", 8.0)
    # GET /readyz answers within this many seconds: a dependency that does not answer
    # in time fails its check (app/services/health.py).
    READY_TIMEOUT_SECONDS = _env_float("PARLEY_READY_TIMEOUT", 2.0)
    # GET /metrics answers a Prometheus server sending this as its bearer token; unset,
    # there is no /metrics (app/api/metrics/routes.py). `parley up` makes one.
    METRICS_TOKEN = os.environ.get("PARLEY_METRICS_TOKEN") or None
    # A task STARTED this long ago is taken for abandoned even if its worker beats (a
    # worker alive but stuck); it must exceed the model's timeout plus DB_RETRY_SECONDS.
    # The broker redelivers an unacknowledged message only after the visibility
    # timeout, which exceeds this plus the longest retry delay. (Celery's own time
    # limits, set from it too, bind only prefork pools.)
    TASK_TIME_LIMIT_SECONDS = _env_int("PARLEY_TASK_TIME_LIMIT", 300)
    VISIBILITY_MARGIN_SECONDS = _env_int("PARLEY_VISIBILITY_MARGIN", 60)
    # How long a task's database step is retried in the worker, with backoff, while
    # the database is unavailable (a result already produced is kept meanwhile).
    DB_RETRY_SECONDS = _env_float("PARLEY_DB_RETRY_SECONDS", 120.0)

    # The sweep (celery beat) re-queues the tasks of dead workers, publishes tasks the
    # broker never got or lost, and fails what has been abandoned too often.
    SWEEP_INTERVAL_SECONDS = _env_float("PARLEY_SWEEP_INTERVAL", 2.0)
    UNPUBLISHED_GRACE_SECONDS = _env_float("PARLEY_UNPUBLISHED_GRACE", 10.0)

    # At most this many of an organization's tasks that call the model run at once
    # (0: no cap); the rest wait their turn, queued (app/services/tasks.py), so one
    # tenant cannot take every worker slot.
    ORG_MAX_IN_FLIGHT = _env_int("PARLEY_ORG_MAX_IN_FLIGHT", 0)

    RETRIEVAL_PASSAGES = _env_int("PARLEY_RETRIEVAL_PASSAGES", 4)
    # "fulltext", "hybrid" (full text and semantic embeddings: the semantic extra,
    # `pip install 'parley[semantic]'`), or "auto": hybrid when the extra is installed
    # (app/services/search.py).
    RETRIEVAL_MODE = os.environ.get("PARLEY_RETRIEVAL", "auto")
    HISTORY_MESSAGES = _env_int("PARLEY_HISTORY_MESSAGES", 40)
    # A dialogue's summary (compact) is made from its latest this many messages.
    SUMMARY_MESSAGES = _env_int("PARLEY_SUMMARY_MESSAGES", 200)

    # Task event streams (app/services/events.py) and their relay as SSE.
    EVENTS_MAXLEN = _env_int("PARLEY_EVENTS_MAXLEN", 10_000)
    EVENTS_TTL_SECONDS = _env_int("PARLEY_EVENTS_TTL", 3600)
    # A reply's chunks that come within this many milliseconds of its last content event
    # are sent as one (its first chunk at once): one Redis round trip per window.
    EVENTS_COALESCE_MS = _env_int("PARLEY_EVENTS_COALESCE_MS", 20)
    SSE_HEARTBEAT_SECONDS = _env_float("PARLEY_SSE_HEARTBEAT", 15.0)

    # Dialog sessions (/v1/dialog-sessions): idle time before a session expires, the
    # beat task's round, and the caps (user messages per session; sessions an
    # organization starts per calendar month (UTC) and has active at once).
    DIALOG_SESSION_TTL_SECONDS = _env_int("PARLEY_DIALOG_SESSION_TTL", 86_400)
    DIALOG_EXPIRY_INTERVAL_SECONDS = _env_float("PARLEY_DIALOG_EXPIRY_INTERVAL", 60.0)
    DIALOG_MAX_MESSAGES = _env_int("PARLEY_DIALOG_MAX_MESSAGES", 50)
    DIALOG_MONTHLY_SESSIONS = _env_int("PARLEY_DIALOG_MONTHLY_SESSIONS", 1_000)
    DIALOG_PARALLEL_SESSIONS = _env_int("PARLEY_DIALOG_PARALLEL_SESSIONS", 50)
    # EUR per million tokens (input, output) by model-name prefix, for cost_eur: a JSON
    # object such as {"claude-sonnet": [2.76, 13.8]} replaces the defaults.
    MODEL_PRICES_EUR = _prices(os.environ.get("PARLEY_MODEL_PRICES_EUR"))
    # A job's reply may be as long as its text: its model calls get this many tokens.
    JOB_MAX_TOKENS = _env_int("PARLEY_JOB_MAX_TOKENS", 8192)

    # Idempotent submits (app/services/idempotency.py): how long a key is kept from its
    # first use, and how long a key may stay in progress before the next request with it
    # takes it over (its first request's process is taken for dead; a request is a
    # transaction and a publish, far shorter).
    IDEMPOTENCY_TTL_SECONDS = _env_int("PARLEY_IDEMPOTENCY_TTL", 86_400)
    IDEMPOTENCY_TAKEOVER_SECONDS = _env_int("PARLEY_IDEMPOTENCY_TAKEOVER", 60)
    # Webhooks (app/services/webhooks.py): how long a receiver may take to answer; the
    # first wait before a failed delivery is tried again, doubling up to the longest
    # wait, for as long as the waits add up to the retry window (24 h).
    WEBHOOK_TIMEOUT_SECONDS = _env_float("PARLEY_WEBHOOK_TIMEOUT", 10.0)
    WEBHOOK_BACKOFF_SECONDS = _env_float("PARLEY_WEBHOOK_BACKOFF", 30.0)
    WEBHOOK_BACKOFF_MAX_SECONDS = _env_float("PARLEY_WEBHOOK_BACKOFF_MAX", 14_400.0)
    WEBHOOK_RETRY_SECONDS = _env_float("PARLEY_WEBHOOK_RETRY_WINDOW", 86_400.0)
    # Webhooks and callbacks may go to loopback, private and link-local addresses (a
    # receiver on your own network); never to cloud metadata addresses.
    WEBHOOKS_ALLOW_PRIVATE = os.environ.get("PARLEY_WEBHOOKS_ALLOW_PRIVATE",
                                            "").lower() in ("1", "true", "yes")

    API_TITLE = "Parley"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "openapi.json"
    # The pages' scripts and styles are the app's own (app/api/docs/routes.py), not a
    # CDN's: the pages work offline, and run the versions the project pinned.
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    OPENAPI_SWAGGER_UI_URL = "/docs/assets/swagger-ui/"
    # No online validator: it would send the document's URL to swagger.io.
    OPENAPI_SWAGGER_UI_CONFIG = {"validatorUrl": None}
    OPENAPI_REDOC_PATH = "/redoc"
    OPENAPI_REDOC_URL = "/docs/assets/redoc/redoc.standalone.js"



def engine_options(config) -> dict:
    """SQLAlchemy's engine options for the configured database."""
    options = dict(config["SQLALCHEMY_ENGINE_OPTIONS"])
    # A database error's text names its statement's parameters, which hold what users
    # wrote: logged (a traceback, a warning), it would put their words in the logs.
    options.setdefault("hide_parameters", True)
    if config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        options["connect_args"] = {"connect_timeout": config["DB_CONNECT_TIMEOUT_SECONDS"],
                                   **options.get("connect_args", {})}
    return options


def celery_settings(config, kinds) -> dict:
    """Celery's settings, derived from the app's so that one place decides each value;
    the tasks' names and queues from the registry of kinds (app/services/task_kinds.py)."""
    time_limit = config["TASK_TIME_LIMIT_SECONDS"]
    visibility_timeout = int(time_limit + config["RETRY_BACKOFF_MAX_SECONDS"]
                             + config["VISIBILITY_MARGIN_SECONDS"])
    transport_options = {"visibility_timeout": visibility_timeout}
    return {
        "broker_url": config["REDIS_URL"],
        "broker_transport": _broker_transport(config["REDIS_URL"]),
        "result_backend": None,
        "task_ignore_result": True,  # task state lives in our own table
        "broker_connection_retry_on_startup": True,
        # Every place Celery reads a visibility timeout from, so none falls back to
        # its one-hour default.
        "broker_transport_options": transport_options,
        "result_backend_transport_options": transport_options,
        # Replies wait on the model: threads, not processes (and a worker's heartbeat,
        # app/services/presence.py, names the process that holds its claims).
        "worker_pool": "threads",
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_time_limit": time_limit,
        "task_soft_time_limit": max(time_limit - 10, 1),
        # Flower: tasks announce themselves when sent and workers emit events.
        "task_send_sent_event": True,
        "worker_send_task_events": True,
        # Each kind's task to its queue; a worker consumes every queue unless given
        # --queues, so no command line repeats the list.
        "task_default_queue": kinds.QUEUES[0],
        "task_queues": [Queue(name, Exchange(name), routing_key=name)
                        for name in kinds.QUEUES],
        "task_routes": kinds.routes(),
        # A broker outage must not hang the API: fail fast, the sweep publishes later.
        "task_publish_retry_policy": {"max_retries": 2, "interval_start": 0,
                                      "interval_step": 0.2, "interval_max": 0.5},
        # A sweep not run by the time the next is due is dropped, not piled up (while
        # no worker runs, beat goes on sending them).
        "beat_schedule": {
            kinds.SWEEP_TASK: {
                "task": kinds.SWEEP_TASK, "schedule": config["SWEEP_INTERVAL_SECONDS"],
                "options": {"expires": config["SWEEP_INTERVAL_SECONDS"] * 2}},
            kinds.EXPIRE_SESSIONS_TASK: {
                "task": kinds.EXPIRE_SESSIONS_TASK,
                "schedule": config["DIALOG_EXPIRY_INTERVAL_SECONDS"],
                "options": {"expires": config["DIALOG_EXPIRY_INTERVAL_SECONDS"] * 2}}},
    }


def _broker_transport(broker_url: str) -> str | None:
    """kombu's Redis transport with a shared client (app/broker.py) for Redis URLs;
    otherwise the URL's own (memory:// in tests)."""
    return BROKER_TRANSPORT if broker_url.split("://", 1)[0] in ("redis", "rediss") else None


class TestConfig(Config):
    TESTING = True
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    LLM_PROVIDER = "offline"
    OFFLINE_CHUNK_DELAY_SECONDS = 0.0
    # The same answers whether the semantic extra is installed or not; hybrid retrieval's
    # tests ask for it.
    RETRIEVAL_MODE = "fulltext"
    RETRY_BACKOFF_SECONDS = 0.05
    RETRY_BACKOFF_MAX_SECONDS = 0.2
    JWT_SECRET = "parley-tests-only-jwt-secret-never-use-it-anywhere-else-0123456789"
