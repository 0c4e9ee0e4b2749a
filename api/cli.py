"""The ``dripline`` command line: one parser, into which each layer registers its commands.

The api layer may import dispatch, never the reverse, so this is the entry point that knows about
both (``[project.scripts] dripline = "api.cli:main"``): :mod:`dispatch.cli` adds demo, plan, import,
scheduler, audit, catalogue and roads, and this module adds the server and the accounts:

* ``dripline serve [--host H] [--port P] [--db URL] [--workers N]`` migrates the database and runs the API
  with uvicorn, in N worker processes sharing the port (``[api] workers``; one per core).
* ``dripline users add NAME --role medic --medic-id 3 [--password-stdin]`` creates an account. The password
  is read from the terminal (twice) or from one line of stdin, never from the command line, where any
  user of the machine could see it in the process list.
* ``dripline users list``, ``dripline users disable NAME``, ``dripline users enable NAME``: disabling ends
  the account's tokens, sessions and calendar feeds at once.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dispatch.cli import Commands, new_parser, one_line_errors
from dispatch.cli import register as dispatch_commands

if TYPE_CHECKING:
    from fastapi import FastAPI


def register(commands: Commands) -> None:
    """Add the api layer's commands: ``serve`` and ``users``."""
    serve = commands.add_parser("serve", help="run the HTTP API (uvicorn)")
    serve.add_argument("--host", default=None, help="address to listen on (default: [api] host)")
    serve.add_argument("--port", type=int, default=None, help="port (default: [api] port)")
    serve.add_argument("--db", default=None, help="database URL (default: [database] url in config.toml)")
    serve.add_argument("--workers", type=int, default=None, help="server processes (default: [api] workers)")
    users = commands.add_parser("users", help="manage accounts")
    actions = users.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="create an account (one per person)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=["dispatcher", "medic", "admin"])
    add.add_argument("--medic-id", type=int, default=None, help="the medic this account belongs to (role medic)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    add.add_argument("--db", default=None, help="database URL (default: [database] url in config.toml)")
    listing = actions.add_parser("list", help="every account: id, name, role, medic, enabled or disabled")
    listing.add_argument("--db", default=None, help="database URL (default: [database] url in config.toml)")
    for word, meaning in (
        ("disable", "disable an account: its tokens, sessions and calendar feeds end at once"),
        ("enable", "enable a disabled account again (it signs in anew; old tokens stay revoked)"),
    ):
        action = actions.add_parser(word, help=meaning)
        action.add_argument("username")
        action.add_argument("--db", default=None, help="database URL (default: [database] url in config.toml)")
    serve.set_defaults(run=run_serve)
    for name, parser in actions.choices.items():
        parser.set_defaults(run=USER_ACTIONS[name])


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the passwords differ.")
    return first


#: how `dripline serve` tells its worker processes which config and database to use
SERVE_CONFIG_ENV = "DRIPLINE_SERVE_CONFIG"
SERVE_DB_ENV = "DRIPLINE_SERVE_DB"


def serve_app() -> FastAPI:
    """The app of one worker process of ``dripline serve --workers N`` (uvicorn imports and calls this)."""
    from api.main import create_app
    from dispatch.store.config import Settings
    from dispatch.store.db import make_engine

    settings = Settings.load(os.environ.get(SERVE_CONFIG_ENV) or None)
    return create_app(settings, make_engine(os.environ.get(SERVE_DB_ENV) or settings.database.url))


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.access_log import log_config
    from api.main import create_app
    from dispatch.store.config import Settings
    from dispatch.store.db import make_engine, migrate

    settings = Settings.load(args.config)
    url = args.db or settings.database.url
    engine = make_engine(url)
    migrate(engine)
    host = args.host or settings.api.host
    port = args.port or settings.api.port
    workers = args.workers or settings.api.workers
    if not 1 <= workers <= 32:
        raise ValueError(f"--workers must be from 1 to 32, got {workers}.")
    print(f"dripline: serving the API on http://{host}:{port} ({settings.api.environment})", flush=True)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "server_header": False,
        # X-Forwarded-For is believed only from [api] trusted_proxies, by the app itself (uvicorn's own
        # default trusts any client on loopback, so anyone on the machine could pick their address)
        "proxy_headers": False,
        "log_config": log_config(),  # the access log with calendar-feed tokens cut out
    }
    if workers == 1:
        uvicorn.run(create_app(settings, engine), **options)
        return 0
    engine.dispose()
    os.environ[SERVE_CONFIG_ENV] = str(Path(args.config).resolve()) if args.config else ""
    os.environ[SERVE_DB_ENV] = url
    uvicorn.run("api.cli:serve_app", factory=True, workers=workers, **options)
    return 0


def run_users_add(args: argparse.Namespace) -> int:
    from dispatch.access.accounts import create_user
    from dispatch.access.audit import append_event
    from dispatch.store.config import Settings
    from dispatch.store.db import engine_for, migrate, session_scope

    settings = Settings.load(args.config)
    password = _read_password(args.password_stdin)
    engine = engine_for(settings, args.db)
    migrate(engine)
    with session_scope(engine) as session:
        user = create_user(session, username=args.username, password=password, role=args.role, medic_id=args.medic_id)
        append_event(
            session, actor_user_id=None, action="write", resource="user", resource_ids=[user.id or 0], outcome="created"
        )
    print(f"created account {user.id} ({user.role.value})")
    return 0


def run_users_list(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from dispatch.access.revocation import list_accounts
    from dispatch.store.config import Settings
    from dispatch.store.db import engine_for

    engine = engine_for(Settings.load(args.config), args.db)
    with Session(engine) as session:
        accounts = list_accounts(session, limit=100_000)
    print(f"{'id':>5}  {'username':<24}{'role':<12}{'medic':>6}  state")
    for user in accounts:
        medic = "" if user.medic_id is None else str(user.medic_id)
        state = "enabled" if user.active else "disabled"
        print(f"{user.id:>5}  {user.username:<24}{user.role.value:<12}{medic:>6}  {state}")
    return 0


def run_users_switch(args: argparse.Namespace) -> int:
    """``users disable NAME`` / ``users enable NAME``, audited as the system's write."""
    from sqlmodel import select

    from dispatch.access.accounts import User
    from dispatch.access.audit import append_event
    from dispatch.access.revocation import set_account_active
    from dispatch.store.config import Settings
    from dispatch.store.db import engine_for, session_scope

    active = args.action == "enable"
    engine = engine_for(Settings.load(args.config), args.db)
    with session_scope(engine) as session:
        user = session.exec(select(User).where(User.username == args.username)).first()
        if user is None or user.id is None:
            raise ValueError(f"no account is called {args.username!r}.")
        set_account_active(session, user_id=user.id, active=active)
        append_event(
            session,
            actor_user_id=None,
            action="write",
            resource="user",
            resource_ids=[user.id],
            outcome="enabled" if active else "disabled",
        )
    print(f"account {user.id} {'enabled' if active else 'disabled; its tokens, sessions and feeds have ended'}")
    return 0


USER_ACTIONS = {"add": run_users_add, "list": run_users_list, "disable": run_users_switch, "enable": run_users_switch}


def parser() -> argparse.ArgumentParser:
    """The whole ``dripline`` command line: dispatch's commands and the api's."""
    whole, commands = new_parser()
    dispatch_commands(commands)
    register(commands)
    return whole


def main(argv: list[str] | None = None) -> int:
    """Run one command; without one, print the help. Bad input is one line on stderr, exit status 2."""
    whole = parser()
    args = whole.parse_args(argv)
    if args.command is None:
        whole.print_help()
        return 0
    # AccountError is a ValueError, so a bad account field is one line too
    return one_line_errors(lambda: args.run(args))


if __name__ == "__main__":
    sys.exit(main())
