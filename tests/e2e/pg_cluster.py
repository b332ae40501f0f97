"""A throwaway PostgreSQL cluster on a free loopback port, for the SQL sources' tests and benchmark.

Not a test module: imported by ``test_sources_sql.py`` (and by ``benchmarks/sources_sql.py``).
``initdb`` refuses to run as root, and CI runs as root: there the cluster's commands run as the
``postgres`` system user (``runuser``), in a temporary folder of its own under /tmp (pytest's
folders are root's alone). The server listens on 127.0.0.1 only, its unix socket in that folder.
Connections over TCP need a password (scram-sha-256), so a URL's password is really used; the
loading connection goes over the socket as ``postgres`` (trust).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: The role the pushes connect as, with a password the tests look for in every output.
ROLE, PASSWORD = "analyst", "s3cret-Pa55:word@"


@dataclass(frozen=True)
class Cluster:
    """A running cluster: its port and unix-socket folder."""

    port: int
    sockets: Path

    def url(self, password: str = PASSWORD) -> str:
        """The SQLAlchemy URL of ``ROLE`` over TCP (``password`` quoted as a URL needs)."""
        from urllib.parse import quote

        return (
            f"postgresql+psycopg://{ROLE}:{quote(password, safe='')}@127.0.0.1:{self.port}/postgres"
        )

    def admin(self) -> object:
        """A psycopg connection as ``postgres`` over the unix socket (autocommit)."""
        import psycopg

        return psycopg.connect(
            host=str(self.sockets),
            port=self.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
        )


def missing() -> str | None:
    """Why a cluster cannot start here, or None."""
    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        return "PostgreSQL's initdb and pg_ctl are not on the PATH (Debian package postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres system user for initdb"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing to run initdb as postgres"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'fyno_pandas[sql]')"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(*command: str) -> None:
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*as_postgres, *command], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def cluster() -> Iterator[Cluster]:
    """Start a cluster with ``ROLE`` (password ``PASSWORD``); stop and delete it when done."""
    home = Path(tempfile.mkdtemp(prefix="fyno-pg-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(home, account.pw_uid, account.pw_gid)
    data, port = home / "data", _free_port()
    _run("initdb", "-D", str(data), "-U", "postgres", "--auth-local=trust", "--no-sync")
    (data / "pg_hba.conf").write_text(
        "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n", encoding="utf-8"
    )
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off"
    try:
        _run("pg_ctl", "-D", str(data), "-o", options, "-l", str(home / "log"), "-w", "start")
        running = Cluster(port, home)
        with running.admin() as admin:  # type: ignore[attr-defined]
            admin.execute(f"create role {ROLE} login password '{PASSWORD}'")
        yield running
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            _run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(home, ignore_errors=True)
