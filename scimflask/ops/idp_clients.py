"""Which identity provider sent a request, from its User-Agent, for the provisioning log.

Microsoft Entra ID's provisioning service and Okta name themselves in the User-Agent (Entra
with agents such as "Microsoft.Azure.Active.Directory.Provisioning…" or "Azure AD
Provisioning…", Okta with "Okta SCIM Client …"); anything else is "other". The raw header is
kept too, cleaned of control characters and bounded, because a new agent string is how an
operator notices a new client.
"""

from __future__ import annotations

import functools
import re

ENTRA, OKTA, OTHER = "entra", "okta", "other"
LABELS = {ENTRA: "Entra ID", OKTA: "Okta", OTHER: "other"}
MAX_USER_AGENT = 200
_ENTRA = re.compile(r"azure[\s._-]*(ad|active[\s._-]*directory)|microsoft[\s._-]*(entra|azure)|\bentra\b|\baad\b",
                    re.IGNORECASE)
_OKTA = re.compile(r"\bokta\b", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A deployment sees the same few User-Agents over and over: each is read once.
_SEEN_AGENTS = 256


@functools.lru_cache(maxsize=_SEEN_AGENTS)
def recognise(user_agent: str | None) -> str:
    """"entra", "okta" or "other"."""
    if user_agent:
        if _ENTRA.search(user_agent):
            return ENTRA
        if _OKTA.search(user_agent):
            return OKTA
    return OTHER


@functools.lru_cache(maxsize=_SEEN_AGENTS)
def bounded_user_agent(user_agent: str | None) -> str | None:
    """The header as it can be logged: no control characters, at most MAX_USER_AGENT long."""
    if not user_agent:
        return None
    text = _CONTROL.sub("", user_agent).strip()
    return text[:MAX_USER_AGENT] or None


def label(client: str | None) -> str:
    """How the console and the command line name a client."""
    return LABELS.get(client or "", client or "—")
