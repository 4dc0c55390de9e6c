"""``faceguard serve --workers N``: several service processes on one listening socket.

The supervisor binds the address once and starts N workers, each ``faceguard serve`` with
the socket handed down as a file descriptor; the kernel spreads connections between them.
Each worker opens the data directory itself (its own connections, extraction processes and
index) and shares with the others what the database holds: the records, sessions, the
authentication throttle, liveness challenges and lockouts, and the index's change feed, which
it follows in the background. A worker that dies (a crash, ``kill -9``) is started again after
a second; the others go on answering meanwhile. SIGTERM or Ctrl-C stops them all.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import click

SUPERVISOR_VARIABLE = "FACEGUARD_SUPERVISOR"
#: Seconds between a worker's death and its restart (no hot loop on a worker that cannot run).
RESTART_DELAY = 1.0
#: Seconds a stopping worker gives open connections before it closes them.
GRACE = 10


def _worker_command(data_dir: Path, config: Path | None, dev: bool, fd: int,
                    face_workers: int) -> list[str]:
    command = [sys.executable, "-m", "faceguard", "--data", str(data_dir)]
    if config is not None:
        command += ["--config", str(config)]
    if dev:
        command.append("--dev")
    return command + ["serve", "--listen-fd", str(fd), "--face-workers", str(face_workers)]


def bind(host: str, port: int) -> socket.socket:
    """The listening socket every worker accepts on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def supervise(sock: socket.socket, workers: int, data_dir: Path, config: Path | None,
              dev: bool, face_workers: int) -> None:
    """Run ``workers`` service processes on ``sock`` until a signal stops them."""
    command = _worker_command(data_dir, config, dev, sock.fileno(), face_workers)
    env = {**os.environ, SUPERVISOR_VARIABLE: str(os.getpid())}
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    running: dict[int, subprocess.Popen[bytes]] = {}
    dead_since: dict[int, float] = {}
    for slot in range(workers):
        running[slot] = subprocess.Popen(command, pass_fds=(sock.fileno(),), env=env)
    click.echo(f"faceguard: {workers} workers started (process IDs "
               f"{', '.join(str(p.pid) for p in running.values())})")
    try:
        while not stopping:
            time.sleep(0.2)
            for slot, process in list(running.items()):
                if process.poll() is None:
                    continue
                now = time.monotonic()
                if slot not in dead_since:
                    click.echo(f"faceguard: worker {process.pid} exited ({process.returncode}); "
                               f"restarting it", err=True)
                    dead_since[slot] = now
                elif now - dead_since[slot] >= RESTART_DELAY:
                    del dead_since[slot]
                    running[slot] = subprocess.Popen(command, pass_fds=(sock.fileno(),), env=env)
    finally:
        for process in running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE + 5
        for process in running.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        sock.close()


def leave_with_parent() -> None:
    """In a worker: stop (SIGTERM to itself) when the supervisor is gone, even by ``kill
    -9``, so that no orphan keeps serving on the socket. The supervisor names itself in
    ``FACEGUARD_SUPERVISOR`` (a worker whose supervisor died while it started sees another
    parent from the first look)."""
    parent = int(os.environ.get(SUPERVISOR_VARIABLE) or os.getppid())

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)
        # A graceful stop may wait on clients that keep their connections open; an orphan
        # must not outlive its supervisor by more than the grace period.
        time.sleep(GRACE + 5)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="faceguard-parent-watch", daemon=True).start()
