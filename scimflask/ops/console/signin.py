"""Signing in to the console with an admin token, and signing out.

A token is sent once, in the body of a POST, and never put in a URL or a cookie: the session
cookie that results names the token by an HMAC tag. Attempts are counted per client address
(`SignInThrottle`, across workers when the storage has shared counters); past the limit every
attempt gets 429 until the window has passed, whether its token is right or not.
"""

from __future__ import annotations

from flask import g, request

from . import audit
from .gate import Gate
from .rendering import page, see_other
from .session import Session
from .throttle import SignInThrottle

WWW_AUTHENTICATE = 'Bearer realm="scimflask-console"'


class SignInViews:
    def __init__(self, gate: Gate, throttle: SignInThrottle) -> None:
        self.gate = gate
        self.throttle = throttle

    def form(self):
        if g.console_visitor.admitted:
            return see_other(".tenants")
        return page("sign_in.html", accepts_tokens=self.gate.accepts_tokens)

    def sign_in(self):
        address = request.remote_addr or "unknown"
        wait = self.throttle.attempt(address)
        if wait:
            audit.record("console.sign_in", actor=None, outcome="throttled")
            return page("sign_in.html", 429, {"Retry-After": str(wait)}, accepts_tokens=self.gate.accepts_tokens,
                        error=f"Too many sign-in attempts from your address. Try again in {wait} seconds.")
        tag = self.gate.token_tag(request.form.get("token", "").strip())
        if tag is None:
            self.throttle.failed(address)
            audit.record("console.sign_in", actor=None, outcome="failure")
            return page("sign_in.html", 401, {"WWW-Authenticate": WWW_AUTHENTICATE},
                        accepts_tokens=self.gate.accepts_tokens, error="That is not an admin token.")
        self.throttle.succeeded(address)
        actor = "admin-token:" + tag[:8]
        audit.record("console.sign_in", actor=actor)
        g.console_new_session = Session.signed_in(tag)
        return see_other(".tenants")

    def sign_out(self):
        session = g.console_visitor.session
        if session.session_id is not None:
            self.gate.revocations.revoke(session.session_id)
        audit.record("console.sign_out", actor=g.console_visitor.actor)
        g.console_new_session = Session.anonymous()
        return see_other(".sign_in_form", notice="signed-out")
