"""Who may use the console: the host's `scimflask_authorize_admin` hook, else a signed-in session.

The hook decides first, exactly as for the admin API: True admits (no sign-in form needed),
False refuses, None leaves it to the admin tokens of SCIM_ADMIN_TOKENS, which a visitor proves
once on the sign-in form and then carries as a signed session cookie, until it signs out
(`Revocations`). Every visitor has a session, if only to carry the CSRF token its forms must
send back.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

import pluggy
from flask import Request

from ...auth import MAX_AUTHORIZATION_LENGTH, hash_secret
from ...config import ConfigKeys
from .revocation import Revocations
from .session import COOKIE_NAME, SIGNED_IN, Session, SessionCodec

HOST = "host"


@dataclass(frozen=True)
class Visitor:
    """A request's session and verdict. `fresh`: the session must be written to the cookie."""

    session: Session
    actor: str | None = None  # "host" or "admin-token:<tag>" when admitted
    refused_by_host: bool = False
    fresh: bool = False

    @property
    def admitted(self) -> bool:
        return self.actor is not None

    @property
    def signed_in(self) -> bool:
        """Admitted by a sign-in this console can also end (the host's verdict it cannot)."""
        return self.actor is not None and self.actor != HOST


class Gate:
    """Admits requests to the console and checks admin tokens and CSRF tokens."""

    def __init__(self, codec: SessionCodec, config, pm: pluggy.PluginManager, revocations: Revocations) -> None:
        self.codec = codec
        self.revocations = revocations
        self.config = config
        self.pm = pm
        self.tokens = tuple(config[ConfigKeys.ADMIN_TOKENS])
        self.tags = frozenset(codec.admin_tag(token) for token in self.tokens)

    def visitor(self, request: Request, *, check_revoked: bool = True) -> Visitor:
        """Who sent `request`; `check_revoked=False` skips asking the storage whether a
        signed-in session was signed out."""
        session = self.codec.loads(request.cookies.get(COOKIE_NAME))
        fresh = session is None
        if session is None:
            session = Session.anonymous()
        verdict = self.pm.hook.scimflask_authorize_admin(request=request, config=self.config)
        if verdict is not None:
            return Visitor(session, HOST if verdict else None, refused_by_host=not verdict, fresh=fresh)
        if session.kind == SIGNED_IN:
            if check_revoked and self.revocations.revoked(session.session_id):  # type: ignore[arg-type]
                return Visitor(Session.anonymous(), fresh=True)  # signed out: that sign-in is over
            if session.admin_tag in self.tags:
                return Visitor(session, "admin-token:" + session.admin_tag[:8], fresh=fresh)
            # Signed in with a token the configuration no longer lists: that sign-in is over.
            return Visitor(Session.anonymous(), fresh=True)
        return Visitor(session, fresh=fresh)

    @property
    def accepts_tokens(self) -> bool:
        return bool(self.tokens)

    def token_tag(self, supplied: str) -> str | None:
        """The tag of the admin token `supplied` is, or None; compares with every configured
        token in constant time, so the time taken tells nothing about how close a guess was."""
        if not supplied or len(supplied) > MAX_AUTHORIZATION_LENGTH:
            return None
        digest = hash_secret(supplied)
        found = None
        for token in self.tokens:
            if hmac.compare_digest(digest, hash_secret(token)):
                found = token
        return None if found is None else self.codec.admin_tag(found)

    @staticmethod
    def csrf_valid(session: Session, sent: str | None) -> bool:
        if not sent or len(sent) > 256:
            return False
        return hmac.compare_digest(session.csrf.encode("utf-8"), sent.encode("utf-8", "replace"))
