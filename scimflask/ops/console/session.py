"""The console's session cookie: signed, short-lived, and holding no secret worth stealing.

The cookie carries who signed in (a tag of the admin token, never the token), a random CSRF
token, a random session id, and the time it was signed. It is signed with itsdangerous under a
key derived from SCIM_SECRET_KEY, so every worker accepts it; without that key each process
draws its own, and a session is then only good on the worker that issued it. Signing out
revokes the session id on the server (`revocation.Revocations`), so a copied cookie dies with
it; expiry bounds the life of every other.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from ...config import ConfigKeys

log = logging.getLogger("scimflask")

COOKIE_NAME = "scimflask_console"
_SALT = "scimflask.console.session"

# A session is "anonymous" (it only carries the CSRF token of the sign-in form, or of a visitor
# the host's hook admits) or "token" (signed in with an admin token).
ANONYMOUS = "anonymous"
SIGNED_IN = "token"


def clock() -> float:
    """The signer's clock (a function of its own so that tests can move it)."""
    return time.time()


class _Signer(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(clock())


@dataclass(frozen=True)
class Session:
    kind: str
    csrf: str
    admin_tag: str | None = None
    session_id: str | None = None  # of a signed-in session: what signing out revokes

    @classmethod
    def anonymous(cls) -> Session:
        return cls(ANONYMOUS, secrets.token_urlsafe(32))

    @classmethod
    def signed_in(cls, admin_tag: str) -> Session:
        # A fresh CSRF token on sign-in: nothing learnt before it carries over.
        return cls(SIGNED_IN, secrets.token_urlsafe(32), admin_tag, secrets.token_urlsafe(24))


class SessionCodec:
    """Turns sessions into cookie values and back, refusing forged, altered or expired ones."""

    def __init__(self, config: Any) -> None:
        secret = config.get(ConfigKeys.SECRET_KEY)
        if not secret:
            log.info("SCIM_SECRET_KEY not set: console sessions are signed with a per-process key "
                     "and only last as long as the worker that issued them")
            secret = secrets.token_bytes(32)
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        # A key of its own, so a console cookie can never pass for a signed cursor or vice versa.
        self.key = hmac.new(secret, b"scimflask console session", hashlib.sha256).digest()
        lifetime = config[ConfigKeys.CONSOLE_SESSION_SECONDS]
        self.lifetime = int(lifetime)
        self._serializer = URLSafeTimedSerializer(self.key, salt=_SALT, signer=_Signer)

    def admin_tag(self, admin_token: str) -> str:
        """Names an admin token in a cookie without revealing anything about it."""
        return hmac.new(self.key, admin_token.encode("utf-8"), hashlib.sha256).hexdigest()[:24]

    def dumps(self, session: Session) -> str:
        return self._serializer.dumps([session.kind, session.csrf, session.admin_tag, session.session_id])

    def loads(self, value: str | None) -> Session | None:
        """The session in a cookie value, or None when it is missing, forged or expired."""
        if not value or len(value) > 1024:
            return None
        try:
            kind, csrf, admin_tag, session_id = self._serializer.loads(value, max_age=self.lifetime)
        except (BadSignature, ValueError, TypeError):
            return None
        if kind not in (ANONYMOUS, SIGNED_IN) or not isinstance(csrf, str) or not csrf:
            return None
        if kind == SIGNED_IN and not (isinstance(session_id, str) and session_id):
            return None  # every signed-in session can be signed out
        return Session(kind, csrf, admin_tag, session_id)
