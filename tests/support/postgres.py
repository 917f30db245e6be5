"""PostgreSQL for tests: a migrated database of the run's own on the shared server, and
a throwaway cluster of our own that a test may stop and start."""

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

import psycopg

from tests.support.apps import make_real_app, migrate


@contextmanager
def scratch_database(admin_url: str):
    """A new, migrated database on the server of admin_url, dropped after; yields its
    SQLAlchemy URL. Raises psycopg.OperationalError if the server is not reachable."""
    name = f"parley_it_{secrets.token_hex(4)}"
    admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        base = admin_url.rsplit("/", 1)[0]
        url = f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
        try:
            migrate(make_real_app(url, "memory://"))
            yield url
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def postgres_bin() -> str | None:
    """The folder of PostgreSQL's server programs (pg_ctl, initdb), if installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return os.path.dirname(found[-1])
    pg_ctl = shutil.which("pg_ctl")
    return os.path.dirname(pg_ctl) if pg_ctl else None


class Cluster:
    """A PostgreSQL cluster in a temporary folder. As root it runs as the postgres
    user, since PostgreSQL refuses to run as root."""

    def __init__(self, bindir: str, folder, port: int):
        self.bindir, self.data, self.port = bindir, folder / "data", port
        self.sockets = folder / "sockets"
        self.sockets.mkdir()
        self.log = folder / "postgres.log"
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
            shutil.chown(self.sockets, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def _run(self, program: str, *arguments: str) -> None:
        command = [os.path.join(self.bindir, program), *arguments]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o",
                  f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1",
                  "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def psycopg_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def take_every_connection(self) -> list[psycopg.Connection]:
        """Drop every client's connection, then take every free one, so that the next
        client to connect hears "sorry, too many clients already". Close the returned
        connections to let clients in again."""
        with psycopg.connect(self.psycopg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'")
        taken = []
        while True:
            try:
                taken.append(psycopg.connect(self.psycopg_url, connect_timeout=2))
            except psycopg.OperationalError:
                return taken


@contextmanager
def throwaway_cluster(port: int):
    """A cluster of our own, started, on `port`; stopped and removed after. Raises
    LookupError when this machine has no PostgreSQL server programs."""
    bindir = postgres_bin()
    if bindir is None:
        raise LookupError("no PostgreSQL server binaries (pg_ctl) on this machine")
    # Not under pytest's tmp_path: the postgres user cannot enter root's folders there.
    folder = Path(tempfile.mkdtemp(prefix="parley-pg-"))
    server = Cluster(bindir, folder, port)
    server.start()
    try:
        yield server
    finally:
        try:
            server.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(folder, ignore_errors=True)
