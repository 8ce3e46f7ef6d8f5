"""``strokecell serve`` in a process of its own on a free loopback port, for the tests that
need a real server (browser, group commit under SIGKILL, two servers over one database)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

__all__ = ["Server", "free_port"]

SRC = Path(__file__).resolve().parents[2] / "src"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """Started through the real CLI; ready once ``/login`` answers (else RuntimeError with
    the server's log). ``env``: extra ``STROKECELL_WEB_*`` settings."""

    def __init__(self, url: str, log: Path, *, secret: str, env: dict[str, str] | None = None,
                 workers: int = 1, ready_within_s: float = 60) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        environ = {**os.environ, "STROKECELL_WEB_ENV": "development",
                   "STROKECELL_WEB_SECRET_KEY": secret, "PYTHONPATH": str(SRC),
                   **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from strokecell.cli import main; main()", "serve",
             "--db", url, "--host", "127.0.0.1", "--port", str(self.port), "--workers",
             str(workers), "--no-access-log"],
            env=environ, stdout=log.open("w"), stderr=subprocess.STDOUT)
        deadline = time.time() + ready_within_s
        while True:
            try:
                if httpx.get(f"{self.base}/login", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError(log.read_text())
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self.proc.kill()
                self.proc.wait()
