"""An existing Flask + Flask-SQLAlchemy app ("Acme") with SCIM provisioning added.

Only the last lines of `create_app` are about SCIM: the app's `Account` table stays the source
of truth, and the `accounts://` storage plugin maps SCIM Users onto it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from scimflask import Scim

from . import scim_accounts, web
from .models import Account, db

__all__ = ["create_app", "db", "Account"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="change-me",                      # the app's own sessions
        SQLALCHEMY_DATABASE_URI="sqlite:///acme.db",
    )
    app.config.from_prefixed_env()                   # FLASK_SECRET_KEY, FLASK_SCIM_BEARER_TOKENS, ...
    app.config.update(config or {})
    db.init_app(app)
    app.register_blueprint(web.bp)
    with app.app_context():
        db.create_all()

    # SCIM: Users map onto Account rows through the plugin in scim_accounts.py.
    app.config.setdefault("SCIM_STORAGE_URI", "accounts://")
    app.config.setdefault("SCIM_STORAGE_OPTIONS", {"db": db})
    app.config.setdefault("SCIM_PLUGINS", [scim_accounts])
    # SCIM_BEARER_TOKENS comes from the environment (FLASK_SCIM_BEARER_TOKENS='["..."]').
    Scim(app)
    return app
