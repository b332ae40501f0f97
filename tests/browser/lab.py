"""Start JupyterLab on a free loopback port for one test, and write notebooks for it."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT = 120.0


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab: where it listens and the token that opens it."""

    port: int
    token: str
    root: Path
    log: Path

    def url(self, notebook: str) -> str:
        return f"http://127.0.0.1:{self.port}/lab/tree/{notebook}?token={self.token}"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_notebook(path: Path, cells: list[str]) -> None:
    """Write an nbformat-4 notebook of code cells (no outputs) for the python3 kernel."""
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "cells": [
            {
                "cell_type": "code",
                "id": f"cell-{i}",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": source,
            }
            for i, source in enumerate(cells)
        ],
    }
    path.write_text(json.dumps(notebook, indent=1), encoding="utf-8")


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {process.returncode}:\n{log.read_text()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.25)  # polling a port that is not open yet; the deadline bounds it
    raise RuntimeError(f"jupyter lab did not listen on {port} in {START_TIMEOUT} s")


@contextmanager
def jupyter_lab(root: Path, log_dir: Path) -> Iterator[Lab]:
    """Run ``python -m jupyter lab`` on a free loopback port with a token; stop it after.

    Its config and runtime directories live under ``log_dir`` so the test neither reads nor
    writes the user's Jupyter state.
    """
    port, token = free_port(), secrets.token_hex(16)
    log = log_dir / "jupyter-lab.log"
    env = dict(
        os.environ,
        JUPYTER_PLATFORM_DIRS="1",
        JUPYTER_CONFIG_DIR=str(log_dir / "config"),
        JUPYTER_RUNTIME_DIR=str(log_dir / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(log_dir / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(log_dir / "workspaces"),
    )
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--allow-root",
        f"--ServerApp.root_dir={root}",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_for_port(port, process, log)
            yield Lab(port=port, token=token, root=root, log=log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
