"""Rendering console pages: templates, redirects, notices and the values templates format.

Templates are Jinja with autoescaping (Flask's default for .html), so every value an identity
provider or an operator typed is shown as text. Notices after a redirect are keys into a fixed
table, never text from the URL, so a link cannot make the console say something it did not.
"""

from __future__ import annotations

from datetime import datetime

from flask import Response, g, make_response, redirect, render_template, request, url_for

from .activity import parse_time

NOTICES = {
    "signed-out": "You have signed out.",
    "signed-in": "Signed in.",
    "disabled": "The tenant is disabled: its tokens get 403 until it is enabled again.",
    "enabled": "The tenant is enabled.",
    "deleted": "The tenant and all its data were deleted.",
    "revoked": "The token was revoked.",
}


def page(template: str, status: int = 200, headers: dict | None = None, **context) -> Response:
    """A console page; `context` plus the visitor, the notice and the helpers every page uses."""
    notice = NOTICES.get(request.args.get("notice", ""))
    response = make_response(render_template(f"console/{template}", notice=notice, **context), status)
    response.headers.update(headers or {})
    return response


def see_other(endpoint: str, notice: str | None = None, **values) -> Response:
    """303 to another console page (after a POST, so a reload does not repeat it)."""
    if notice is not None:
        values["notice"] = notice
    return redirect(url_for(endpoint, **values), code=303)


def when(value: datetime | str | None) -> str:
    """A moment as the console shows it: UTC to the second."""
    if value is None:
        return "never"
    if isinstance(value, str):
        value = parse_time(value)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(value: datetime | str | None) -> str:
    """A moment for a `<time datetime=…>` attribute."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.isoformat().replace("+00:00", "Z")


def csrf_token() -> str:
    visitor = g.get("console_visitor")
    return visitor.session.csrf if visitor is not None else ""


TEMPLATE_HELPERS = {"when": when, "iso": iso, "csrf_token": csrf_token}
