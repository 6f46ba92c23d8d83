"""`flask --app app ocop user add|list|remove|passwd NAME`: the /admin accounts
(web/accounts.py).  Passwords are asked for twice, never taken from the command line.
Each change is recorded in the audit log (web/audit.py) with the operating-system user."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from . import audit
from .accounts import FALLBACK, NAME, AccountError, Accounts, normalise

user = AppGroup("user", help="The /admin accounts: add, list, remove, change a password.")


def _accounts() -> Accounts:
    return Accounts.for_config(current_app.config)


def _password() -> str:
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _run(action: str, name: str, fn) -> None:
    try:
        fn()
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    audit.record_cli(current_app.config["DATA_DIR"], action, name=normalise(name))


@user.command("add")
@click.argument("name")
def add_cmd(name):
    """Add the account NAME (asks for its password twice)."""
    accts = _accounts()
    if not NAME.match(normalise(name)):
        raise click.ClickException("a name is 1 to 40 of a-z, 0-9, '.', '_', '-', starting "
                                   "with a letter or digit")
    if normalise(name) in accts.names():
        raise click.ClickException(f"there is already an account {normalise(name)!r}")
    password = _password()
    _run("user_add", name, lambda: accts.add(name, password))
    click.echo(f"account {normalise(name)!r} added")


@user.command("list")
def list_cmd():
    """List the accounts."""
    accts = _accounts()
    try:
        info = accts.info()
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    for name, i in info.items():
        click.echo(f"{name}  (password set {i['changed']})")
    if accts.fallback_hash and FALLBACK not in info:
        click.echo(f"{FALLBACK}  (from the ADMIN_PASSWORD_HASH setting)")
    if not info and not accts.fallback_hash:
        click.echo("no accounts: /admin is off; add one with `flask --app app ocop user add NAME`")


@user.command("remove")
@click.argument("name")
def remove_cmd(name):
    """Remove the account NAME; its sessions end."""
    _run("user_remove", name, lambda: _accounts().remove(name))
    click.echo(f"account {normalise(name)!r} removed")


@user.command("passwd")
@click.argument("name")
def passwd_cmd(name):
    """Set a new password for NAME (asked twice); its sessions end."""
    accts = _accounts()
    if normalise(name) not in accts.names():
        raise click.ClickException(f"no account {normalise(name)!r}")
    password = _password()
    _run("user_passwd", name, lambda: accts.set_password(name, password))
    click.echo(f"password of {normalise(name)!r} changed; its sessions have ended")
