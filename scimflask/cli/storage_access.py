"""Opening storage from the command line so that every failure shows at startup, with its URL.

Backends connect lazily, so a wrong host, password or database would otherwise surface at the
first request. The command line pings right after opening, and wraps what goes wrong with the
URL and where it was given, for `errors.explain` to name the cause and the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from ..errors import ConfigurationError
from ..storage.base import Storage

# Where the configured storage URL comes from, as an operator would set it.
CONFIGURED = "SCIM_STORAGE_URI or --storage"


class StorageFailure(Exception):
    """Opening or pinging the storage at `uri` failed; `origin` names where it was given."""

    def __init__(self, uri: str, origin: str, cause: BaseException) -> None:
        super().__init__(f"{redact(uri)}: {type(cause).__name__}: {cause}")
        self.uri = uri
        self.origin = origin
        self.cause = cause


def redact(uri: str) -> str:
    """`uri` with its password replaced, fit for a terminal or a log."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def known_schemes() -> list[str]:
    """The storage schemes the installed plugins register."""
    from ..plugins import make_plugin_manager, storage_registry

    return storage_registry(make_plugin_manager()).schemes


def scheme_hint(uri: str) -> str | None:
    """A likely meant URL when `uri` has an unknown or missing scheme, else None."""
    if "://" not in uri:
        return f"sqlite:///{uri}" if uri.endswith((".db", ".sqlite", ".sqlite3")) else None
    scheme, rest = uri.split("://", 1)
    schemes = known_schemes()
    if scheme.lower() in schemes:
        return None
    close = difflib.get_close_matches(scheme.lower(), schemes, n=1, cutoff=0.6)
    return f"{close[0]}://{rest}" if close else None


@contextmanager
def naming_the_scheme(uri: str, origin: str) -> Iterator[None]:
    """Re-raise a configuration error about `uri`'s scheme with the URL meant (postgres:// →
    postgresql://); other errors pass unchanged."""
    try:
        yield
    except ConfigurationError as exc:
        hint = scheme_hint(uri)
        if hint is None:
            raise
        problem = "unknown scheme" if "://" in uri else "no scheme"
        raise ConfigurationError(
            f"storage URL {redact(uri)!r} ({origin}) has {problem}; did you mean {redact(hint)!r}?") from exc


def ping(storage: Storage, uri: str, origin: str) -> None:
    """Reach the backend now; a missing driver stays an ImportError (it names the package)."""
    try:
        storage.ping()
    except ImportError:
        raise
    except Exception as exc:
        raise StorageFailure(uri, origin, exc) from exc


def open_uri(uri: str, origin: str) -> Storage:
    """The storage at `uri` (every installed plugin loaded, as migrate opens it), reachable."""
    from ..ops.migrate import open_installed_storage

    with naming_the_scheme(uri, origin):
        storage = open_installed_storage(uri)
    ping(storage, uri, origin)
    return storage
