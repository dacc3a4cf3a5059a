"""`civica serve | admin | migrate`: the command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from civica.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    return Settings(**overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from civica.api.app import create_app
    from civica.bootstrap import prepare
    from civica.platform import Platform

    settings = _settings(args)
    platform = Platform.open(settings)
    prepared = prepare(platform)
    base = f"http://{args.host}:{args.port}"
    # Runs call the API back at this address unless CIVICA_PUBLIC_URL says otherwise.
    local = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    platform.extras.setdefault("api_url", f"http://{local}:{args.port}")
    print(f"civica {_version()} serving {base}  (data folder: {settings.data_dir.resolve()})")
    if prepared.new_admin_key:
        print(
            f"First start: created user {prepared.admin_username!r}. Its API key, shown only now:\n"
            f"\n    {prepared.new_admin_key}\n\n"
            f"Use it with:  export CIVIS_API_ENDPOINT={base}/ CIVIS_API_KEY=<the key>"
        )
    elif settings.admin_api_key:
        print(f"Admin user {prepared.admin_username!r} uses the key in CIVICA_ADMIN_API_KEY.")
    sys.stdout.flush()
    uvicorn.run(
        create_app(platform),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.access_log,
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
        timeout_keep_alive=max(1, round(args.keep_alive)),
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Run one worker alone: claim and execute queued runs until SIGINT or SIGTERM."""
    import signal
    import threading

    from civica.bootstrap import prepare
    from civica.execution.worker import Worker
    from civica.platform import Platform

    settings = _settings(args)
    platform = Platform.open(settings)
    prepare(platform)
    api_url = args.api_url or settings.public_url or "http://127.0.0.1:8000"
    platform.extras["api_url"] = api_url
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    worker = Worker(platform)
    worker.start()
    from civica.scheduling.scheduler import start_scheduler

    scheduler = start_scheduler(platform)  # a candidate leader, like every `civica serve`
    cap = worker.executor.capacity()
    print(
        f"civica worker {worker.worker_id}: {cap.cpu / 1024:g} CPUs, {cap.memory} MiB for runs; "
        f"runs call the API at {api_url}"
    )
    sys.stdout.flush()
    stop.wait()
    if scheduler is not None:
        scheduler.stop()
    worker.stop()
    platform.close()
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from civica.db.migrate import upgrade
    from civica.platform import Platform

    platform = Platform.open(_settings(args))
    upgrade(platform.engine)
    print("metadata database is up to date")
    return 0


def _admin(args: argparse.Namespace, action: Callable[..., str | None]) -> int:
    from civica.bootstrap import prepare
    from civica.platform import Platform
    from civica.services.errors import ServiceError

    platform = Platform.open(_settings(args))
    prepare(platform)
    try:
        with platform.transaction() as session:
            out = action(session=session, platform=platform, args=args)
    except ServiceError as exc:
        print(f"error: {exc.description}", file=sys.stderr)
        return 1
    if out:
        print(out)
    return 0


def _create_user(*, session: Any, platform: Any, args: argparse.Namespace) -> str:
    from civica.services import users

    user = users.create_user(
        session=session,
        username=args.username,
        name=args.name,
        email=args.email,
        is_admin=args.admin,
        password=args.password,
        secrets=platform.secrets,
    )
    _, key = users.issue_api_key(session=session, user=user, name="created by civica admin")
    return key


def _set_password(*, session: Any, platform: Any, args: argparse.Namespace) -> str:
    import getpass

    from civica.security import hash_password
    from civica.services import users
    from civica.services.errors import BadRequest

    user = users.get_user_by_name(session=session, username=args.username)
    password = args.password
    if password is None:
        password = getpass.getpass(f"new password for {user.username}: ")
        if getpass.getpass("again: ") != password:
            raise BadRequest("the two passwords differ; nothing was changed")
    if len(password) < 8:
        raise BadRequest("a password must be at least 8 characters long")
    user.password_hash = hash_password(password)
    return f"password set for {user.username}; sign in at /ui/login"


def _issue_key(*, session: Any, platform: Any, args: argparse.Namespace) -> str:
    from civica.services import users

    user = users.get_user_by_name(session=session, username=args.username)
    row, key = users.issue_api_key(session=session, user=user, name=args.key_name or "")
    print(f"key id {row.id}", file=sys.stderr)
    return key


def _revoke_key(*, session: Any, platform: Any, args: argparse.Namespace) -> str:
    from civica.services import users

    row = users.revoke_api_key(session=session, key_id=args.key_id)
    return f"revoked key {row.id} ({row.prefix}...)"


def _list_keys(*, session: Any, platform: Any, args: argparse.Namespace) -> str:
    from sqlalchemy import select

    from civica.db.models import ApiKeyRow
    from civica.services import users

    user = users.get_user_by_name(session=session, username=args.username)
    rows = session.scalars(select(ApiKeyRow).where(ApiKeyRow.user_id == user.id)).all()
    lines = [
        f"{r.id}\t{r.prefix}...\t{r.name}\t"
        f"{'revoked' if r.revoked_at else 'active'}\t{r.created_at.isoformat()}"
        for r in rows
    ]
    return "\n".join(lines)


def _list_users(*, session: Any, platform: Any, args: argparse.Namespace) -> str:
    from sqlalchemy import select

    from civica.db.models import UserRow

    rows = session.scalars(select(UserRow).order_by(UserRow.id)).all()
    return "\n".join(
        f"{r.id}\t{r.username}\t{r.name}\t{'admin' if r.is_admin else ''}" for r in rows
    )


def _create_group(*, session: Any, platform: Any, args: argparse.Namespace) -> str:
    from civica.services import users

    group = users.create_group(session=session, name=args.name, description=args.description)
    return str(group.id)


def _add_member(*, session: Any, platform: Any, args: argparse.Namespace) -> str:
    from civica.services import users

    group = users.get_group_by_name(session=session, name=args.group)
    user = users.get_user_by_name(session=session, username=args.username)
    users.add_member(session=session, group=group, user=user)
    return f"{user.username} is now in {group.name}"


def _remove_member(*, session: Any, platform: Any, args: argparse.Namespace) -> str:
    from civica.services import users

    group = users.get_group_by_name(session=session, name=args.group)
    user = users.get_user_by_name(session=session, username=args.username)
    users.remove_member(session=session, group=group, user=user)
    return f"{user.username} is no longer in {group.name}"


def _add_database(*, session: Any, platform: Any, args: argparse.Namespace) -> str:
    from sqlalchemy import select

    from civica.db.models import UserRow
    from civica.services import databases

    owner = session.scalar(
        select(UserRow).where(UserRow.is_admin.is_(True)).order_by(UserRow.id).limit(1)
    )
    row = databases.register_database(
        session=session,
        secrets=platform.secrets,
        owner_id=owner.id,
        name=args.name,
        url=args.url,
        description=args.description,
    )
    return str(row.id)


def _rotate_secrets(*, session: Any, platform: Any, args: argparse.Namespace) -> str:
    from civica.services.secrets import rotate_all

    count = rotate_all(session=session, box=platform.secrets)
    return f"re-encrypted {count} secrets with the first key of CIVICA_SECRET_KEY"


def _version() -> str:
    import civica

    return civica.__version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="civica", description="A self-hostable data platform.")
    parser.add_argument("--version", action="version", version=f"civica {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the platform (API and workers) in one process")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--data-dir", help="folder for all local state (default ./data)")
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True)
    serve.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        help="addresses of load balancers whose X-Forwarded-For/-Proto headers are trusted "
        "(comma-separated, or * for any); the client address then comes from them",
    )
    serve.add_argument(
        "--keep-alive",
        type=float,
        default=75.0,
        help="seconds an idle client connection is kept open (default 75: longer than a load "
        "balancer's usual 60 s idle timeout, so the server is never the side that closes a "
        "connection a client is about to reuse)",
    )
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run queued jobs on this machine (no API)")
    worker.add_argument("--data-dir", help="folder for all local state (default ./data)")
    worker.add_argument(
        "--api-url",
        help="address runs use to call the API back (default CIVICA_PUBLIC_URL, then "
        "http://127.0.0.1:8000)",
    )
    worker.set_defaults(func=cmd_worker)

    migrate = sub.add_parser("migrate", help="bring the metadata database up to date")
    migrate.add_argument("--data-dir")
    migrate.set_defaults(func=cmd_migrate)

    admin = sub.add_parser("admin", help="manage users, groups, API keys and databases")
    admin.add_argument("--data-dir")
    asub = admin.add_subparsers(dest="admin_command", required=True)

    def add(name: str, fn: Callable[..., str | None], help_: str) -> argparse.ArgumentParser:
        p = asub.add_parser(name, help=help_)
        p.set_defaults(func=lambda a: _admin(a, fn))
        return p

    p = add("create-user", _create_user, "create a user; prints only its new API key")
    p.add_argument("username")
    p.add_argument("--name")
    p.add_argument("--email")
    p.add_argument("--password", help="for signing in to the web UI")
    p.add_argument("--admin", action="store_true")
    add("list-users", _list_users, "list users")
    p = add("set-password", _set_password, "set a user's password for the web UI (asks for it)")
    p.add_argument("username")
    p.add_argument("--password", help="the new password (default: ask without echo)")
    p = add("issue-key", _issue_key, "issue a new API key for a user; prints the key")
    p.add_argument("username")
    p.add_argument("--key-name")
    p = add("list-keys", _list_keys, "list a user's API keys (never the keys themselves)")
    p.add_argument("username")
    p = add("revoke-key", _revoke_key, "revoke an API key by id")
    p.add_argument("key_id", type=int)
    p = add("create-group", _create_group, "create a group; prints its id")
    p.add_argument("name")
    p.add_argument("--description")
    p = add("add-member", _add_member, "add a user to a group")
    p.add_argument("group")
    p.add_argument("username")
    p = add("remove-member", _remove_member, "remove a user from a group")
    p.add_argument("group")
    p.add_argument("username")
    p = add("add-database", _add_database, "register a database by name and SQLAlchemy URL")
    p.add_argument("name")
    p.add_argument("url")
    p.add_argument("--description")
    add("rotate-secrets", _rotate_secrets, "re-encrypt all secrets with the newest key")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
