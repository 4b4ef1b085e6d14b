"""The host application's own pages: a home page, a session login, and an accounts list."""

from __future__ import annotations

import functools

from flask import Blueprint, redirect, render_template_string, request, session, url_for
from sqlalchemy import func, select

from .models import Account, db

bp = Blueprint("web", __name__)

PAGE = """<!doctype html><title>{{ title }}</title><h1>{{ title }}</h1>{{ body|safe }}"""
LOGIN_FORM = """<form method="post">
  <input name="email" placeholder="email"> <input name="password" type="password">
  <button>Log in</button></form><p>{{ error }}</p>"""


def login_required(view):
    """Send anonymous visitors to the login page."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_account() is None:
            return redirect(url_for("web.login", next=request.path))
        return view(*args, **kwargs)

    return wrapped


def current_account() -> Account | None:
    """The logged-in account; a deactivated account (e.g. by SCIM) is logged out at once."""
    account_id = session.get("account_id")
    account = db.session.get(Account, account_id) if account_id is not None else None
    return account if account is not None and account.is_active else None


@bp.route("/")
def index():
    return render_template_string(PAGE, title="Acme", body='<a href="/login">Log in</a>')


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = ""
    if request.method == "POST":
        email = request.form.get("email", "")
        account = db.session.scalar(select(Account).where(func.lower(Account.email) == email.lower()))
        if account is not None and account.is_active and account.check_password(request.form.get("password", "")):
            session["account_id"] = account.id
            return redirect(request.args.get("next") or url_for("web.accounts"))
        error = "Unknown email, wrong password or deactivated account."
    body = render_template_string(LOGIN_FORM, error=error)
    return render_template_string(PAGE, title="Log in", body=body), 401 if error else 200


@bp.route("/logout", methods=["POST"])
def logout():
    session.clear()
    return redirect(url_for("web.index"))


@bp.route("/accounts")
@login_required
def accounts():
    rows = db.session.scalars(select(Account).order_by(Account.email)).all()
    body = render_template_string(
        "<ul>{% for a in rows %}<li>{{ a.email }} {{ a.first_name or '' }} {{ a.last_name or '' }}"
        "{% if not a.is_active %} (inactive){% endif %}</li>{% endfor %}</ul>", rows=rows)
    return render_template_string(PAGE, title="Accounts", body=body)


@bp.app_errorhandler(404)
def not_found(error):
    return render_template_string(PAGE, title="Not found", body="<p>No such page at Acme.</p>"), 404
