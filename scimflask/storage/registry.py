"""The table of storage classes plugins register, looked up by URL scheme."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..errors import ConfigurationError
from .base import Storage


class StorageRegistry:
    """Filled by `scimflask_register_storage(registry)` hook implementations."""

    def __init__(self) -> None:
        self._by_scheme: dict[str, type[Storage]] = {}

    def add(self, storage_class: type[Storage]) -> None:
        """Register `storage_class` for each scheme in its `schemes`.

        Two classes claiming one scheme is a configuration error, never a silent winner.
        """
        if not storage_class.schemes:
            raise ConfigurationError(f"{storage_class.__name__} declares no URL schemes")
        for scheme in storage_class.schemes:
            key = scheme.lower()
            other = self._by_scheme.get(key)
            if other is not None and other is not storage_class:
                raise ConfigurationError(
                    f"storage scheme {scheme!r} is claimed by both "
                    f"{other.__module__}.{other.__name__} and "
                    f"{storage_class.__module__}.{storage_class.__name__}"
                )
            self._by_scheme[key] = storage_class

    @property
    def schemes(self) -> list[str]:
        return sorted(self._by_scheme)

    def lookup(self, uri: str) -> type[Storage]:
        """The class for `uri`: full scheme (`postgresql+psycopg`) first, then before `+`."""
        scheme = urlsplit(uri).scheme.lower() if "://" in uri else ""
        if not scheme:
            raise ConfigurationError(f"storage URI {uri!r} has no scheme; known: {', '.join(self.schemes)}")
        for candidate in (scheme, scheme.split("+", 1)[0]):
            if candidate in self._by_scheme:
                return self._by_scheme[candidate]
        raise ConfigurationError(f"unknown storage scheme {scheme!r}; known: {', '.join(self.schemes)}")
