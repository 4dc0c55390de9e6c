"""``faceguard serve`` and ``faceguard keys``: the service's commands.

Register them on the main group (``main.add_command(serve)``, ``main.add_command(keys)``);
they read the global options (``--data``, ``--config``, ``--dev``) from the click context
object, like every other command, and open the one ``Faceguard`` the same way.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from faceguard.cli.common import facade
from faceguard.cli.first_run import data_line, print_check, print_trial
from faceguard.errors import FaceguardError

if TYPE_CHECKING:
    from faceguard.api.faceguard import Faceguard
    from faceguard.cli.common import Context

EXIT_CONFIG = 2
LOUD = "!" * 78


def _fail(exc: FaceguardError | str) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    sys.exit(EXIT_CONFIG)


def _dev_warning(data_dir: Path, generated: bool) -> None:
    lines = [LOUD, "WARNING: DEVELOPMENT MODE (--dev). Do not process real people's faces."]
    if generated:
        lines.append("A local master key was just generated in "
                     f"{facade().tools.master_key_file(data_dir)}.")
    lines += ["Keys are local and unprotected; every page shows a development banner.", LOUD]
    click.secho("\n".join(lines), fg="red", bold=True, err=True)


@contextmanager
def _opened(obj: Context, dev: bool, *, trial_ok: bool = False) -> Iterator[Faceguard]:
    """Open the Faceguard of the global options; in dev mode create what is missing (with
    ``trial_ok``, a trial deployment where nothing is configured: ``api.trial``)."""
    from faceguard.api.trial import needs_trial, prepare_trial, write_trial_files

    generated = dev and not facade().tools.master_key_file(obj.data_dir).exists()
    trial = dev and trial_ok and needs_trial(obj.data_dir, obj.config)
    if dev and not trial and obj.config is None and not facade().tools.config_file(
            obj.data_dir).exists():
        try:
            facade().init(obj.data_dir)
        except FaceguardError as exc:
            _fail(exc)
    if trial:
        write_trial_files(obj.data_dir)
    elif dev:
        _dev_warning(obj.data_dir, generated)
    try:
        fg = facade().open(obj.data_dir, config=obj.config, dev=dev)
        if trial:
            prepare_trial(fg)
    except FaceguardError as exc:
        _fail(exc)
    try:
        yield fg
    finally:
        fg.close()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--dev", "dev_flag", is_flag=True,
              help="Development mode: make a local master key (and data directory) if none.")
@click.option("--face-workers", type=click.IntRange(0, 64), default=None,
              help="Processes that extract faces from images (default: one per core; 0: "
                   "in the service's own threads).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Service processes sharing the address (and the database): a request may "
                   "land on any of them.")
@click.option("--listen-fd", type=int, default=None, hidden=True,
              help="(Set by the supervisor of --workers) accept on this inherited socket.")
@click.pass_obj
def serve(obj: Context, host: str, port: int, dev_flag: bool, face_workers: int | None,
          workers: int, listen_fd: int | None) -> None:
    """Run the API, the operator/DPO pages and the kiosk (FastAPI + Uvicorn).

    Without a master key, and without --dev, it refuses to start. At protection level 3 it
    refuses to start until separate admin (with TOTP), auditor and operator keys exist.
    With no API key at all it makes a first admin key and prints it once. Faces are
    extracted in worker processes (one per core), so that face work uses every core and an
    image that crashes native code cannot take the service down.
    """
    import uvicorn

    from faceguard.api.trial import make_trial_keys
    from faceguard.cli import supervisor
    from faceguard.engine.pool import default_pool_size
    from faceguard.service import ServiceSettings, create_app

    dev = bool(obj.dev or dev_flag)
    if listen_fd is not None:
        _worker(obj, dev, listen_fd, face_workers)
        return
    made = not obj.data_dir.exists()
    with _opened(obj, dev, trial_ok=True) as fg:
        try:
            app = create_app(fg, ServiceSettings.from_env(dev=dev or None))
        except FaceguardError as exc:
            _fail(exc)
        # By default the cores are shared out between the service processes.
        extractors = (max(1, default_pool_size() // workers) if face_workers is None
                      else face_workers)
        if workers == 1:  # this process serves; under a supervisor, the workers do
            try:
                if extractors:
                    fg.use_worker_processes(extractors)
            except FaceguardError as exc:
                _fail(exc)
            fg.follow_changes()
        keys = app.state.service.keys
        base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
        if fg.deployment.deployment.trial:
            print_trial(fg, obj.data_dir, base, make_trial_keys(keys))
        elif not keys.list_keys(active_only=True):
            created = keys.create("admin", "first admin", actor="cli")
            click.echo(f"No API key existed: made a first admin key ({created.key.id}). "
                       f"It is shown only now:\n\n    {created.secret}\n\n"
                       "Enrolling needs an operator key and matching a terminal key: "
                       "faceguard keys create --role operator; faceguard keys create "
                       "--role terminal --purpose PURPOSE\n")
        click.echo(f"faceguard: {fg.deployment.deployment.name}")
        click.echo(data_line(obj.data_dir, made))
        print_check(fg)
        click.echo(f"\nOpen {base}/-/login (dashboard {base}/dashboard, kiosk {base}/kiosk, "
                   f"API docs {base}/-/docs)\n")
        if host not in ("127.0.0.1", "localhost", "::1"):
            click.echo("note: listening beyond this machine; put it behind HTTPS and set "
                       "FACEGUARD_SERVICE_COOKIE_SECURE=true", err=True)
        if workers == 1:
            uvicorn.run(app, host=host, port=port, log_level="info", server_header=False,
                        timeout_graceful_shutdown=supervisor.GRACE)
            return
    try:
        sock = supervisor.bind(host, port)
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    supervisor.supervise(sock, workers, obj.data_dir, obj.config, dev, extractors)


def _worker(obj: Context, dev: bool, fd: int, face_workers: int | None) -> None:
    """One worker of ``serve --workers``: the service on the supervisor's socket."""
    import uvicorn

    from faceguard.cli import supervisor
    from faceguard.service import ServiceSettings, create_app

    supervisor.leave_with_parent()
    try:
        fg = facade().open(obj.data_dir, config=obj.config, dev=dev)
    except FaceguardError as exc:
        _fail(exc)
    try:
        app = create_app(fg, ServiceSettings.from_env(dev=dev or None))
        if face_workers:
            fg.use_worker_processes(face_workers)
        fg.follow_changes()
        uvicorn.run(app, fd=fd, log_level="warning", server_header=False,
                    timeout_graceful_shutdown=supervisor.GRACE)
    except FaceguardError as exc:
        _fail(exc)
    finally:
        fg.close()


@click.group("keys")
def keys() -> None:
    """API keys of the service: create (shown once), list, revoke."""


@keys.command("create")
@click.option("--role", required=True,
              type=click.Choice(["admin", "operator", "terminal", "auditor"]))
@click.option("--holder", default=None, help="Who holds it (a person or a device).")
@click.option("--purpose", "purposes", multiple=True, help="Terminal keys: a purpose served.")
@click.option("--totp", is_flag=True, help="Admin keys: add a TOTP second factor "
              "(always at protection level 3).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def keys_create(obj: Context, role: str, holder: str | None, purposes: tuple[str, ...],
                totp: bool, as_json: bool) -> None:
    """Make an API key. Its secret is printed once and stored only as a hash."""
    with _opened(obj, obj.dev) as fg:
        api_keys = fg.api_keys
        if holder is None and api_keys.level >= 3:
            _fail(f"at protection level {api_keys.level} say who holds the key (--holder): the "
                  "admin, auditor and operator roles must be held by different people")
        try:
            created = api_keys.create(role, holder or f"unnamed {role} key", list(purposes),
                                   actor="cli", with_totp=totp)
        except FaceguardError as exc:
            _fail(exc)
    if as_json:
        click.echo(json.dumps({"key": asdict(created.key), "secret": created.secret,
                               "totp_secret": created.totp_secret,
                               "totp_uri": created.totp_uri}, indent=2))
        return
    scope = f" for {', '.join(created.key.purposes)}" if created.key.purposes else ""
    click.echo(f"{role} key {created.key.id} ({created.key.holder}){scope}. "
               "Shown only now:\n\n    " + created.secret + "\n")
    if created.totp_secret:
        click.echo(f"TOTP secret for the authenticator app: {created.totp_secret}\n"
                   f"    {created.totp_uri}\n")


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def keys_list(obj: Context, as_json: bool) -> None:
    """Every key (never the secrets)."""
    with _opened(obj, obj.dev) as fg:
        listed = fg.api_keys.list_keys()
    if as_json:
        click.echo(json.dumps([asdict(k) for k in listed], indent=2))
        return
    for k in listed:
        state = f"revoked {k.revoked_at[:10]}" if k.revoked_at else "active"
        extra = f" [{', '.join(k.purposes)}]" if k.purposes else ""
        click.echo(f"{k.id}  {k.role:8s} {state:18s} {k.holder}{extra}"
                   f"{'  TOTP' if k.has_totp else ''}")


@keys.command("revoke")
@click.argument("key_id")
@click.pass_obj
def keys_revoke(obj: Context, key_id: str) -> None:
    """Revoke a key now."""
    with _opened(obj, obj.dev) as fg:
        try:
            revoked = fg.api_keys.revoke(key_id, actor="cli")
        except FaceguardError as exc:
            _fail(exc)
    click.echo(f"revoked {revoked.id} ({revoked.role}, {revoked.holder})")


@keys.command("rotate-master")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def keys_rotate_master(obj: Context, as_json: bool) -> None:
    """Re-wrap every data key under a new master key while the service serves (R14).

    The new key is written beside the current key file as master.key.next, every data key is
    re-wrapped under it, then it replaces the old key file: the old key is retired and gone.
    Running workers follow without a restart. On several machines, copy master.key.next to
    each as soon as it appears. Take a new backup afterwards: key-store copies made before
    the rotation no longer open.
    """
    with _opened(obj, obj.dev) as fg:
        try:
            done = fg.shared.rotate_master_key(actor="cli")
        except FaceguardError as exc:
            _fail(exc)
    if as_json:
        click.echo(json.dumps(asdict(done), indent=2))
        return
    click.echo(f"master key rotated: {done.old_fingerprint} retired, {done.new_fingerprint} "
               f"current; {done.rewrapped} data keys re-wrapped in {done.passes} passes "
               f"(audit event {done.audit_event}). Take a new backup now.")
