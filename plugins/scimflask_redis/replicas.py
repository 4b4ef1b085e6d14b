"""Replica-acknowledged writes: with `wait_replicas=N` a write counts as done only once N
replicas hold it, so a failover that promotes one of them cannot lose it.

Redis replicates asynchronously: a primary answers a write before any replica has it, and a
crash in between loses the write although the client was told it succeeded. `WAIT N T` blocks
until N replicas have acknowledged every earlier write *of the same connection* (at most T ms),
so each write is pipelined with its WAIT on one connection of the primary that holds the
written keys (on a Cluster: the primary of the tenant's slot).

When fewer than N replicas acknowledge in time the write is refused with `StorageUnavailable`
(503 with Retry-After). The write may nevertheless have been applied on the primary, and may
survive or be lost by a failover: the server only never *acknowledges* a write a failover could
lose. Until a failover undoes it, such a write is visible to later requests (a read shows it, a
retried DELETE gets 404). Identity providers retry refused writes and match existing resources
by externalId or userName, so a retried create finds the first attempt's resource instead of
duplicating it.

`Writer` runs writes as they are; `AcknowledgedWriter` adds the WAIT. Rate-limit counters
and a token's last-used time are not routed through either: losing them in a failover is
harmless, and they are written on every request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress

from scimflask.storage import StorageUnavailable

try:  # redis-py is an optional dependency (see `storage`)
    import redis.exceptions as _errors
    from redis.exceptions import AskError, NoScriptError  # AskError includes MovedError

    _LINK_ERRORS: tuple[type[BaseException], ...] = (_errors.ConnectionError, _errors.TimeoutError)
    _REFRESH_ERRORS: tuple[type[BaseException], ...] = (*_LINK_ERRORS, _errors.RedisClusterException)
except ImportError:  # pragma: no cover - exercised only without the redis extra
    AskError = NoScriptError = ()  # type: ignore[assignment,misc]
    _LINK_ERRORS = _REFRESH_ERRORS = ()

Queue = Callable[[object], object]  # adds commands to the pipeline it is given


class Writer:
    """Writes without waiting for replicas."""

    def __init__(self, client) -> None:
        self.client = client

    def script(self, script, keys: Sequence, args: Sequence):
        """Run a registered write script; its reply."""
        return script(keys=list(keys), args=list(args))

    def commands(self, key: str, queue: Queue) -> list:
        """Run the commands `queue` adds to a pipeline (keys in `key`'s slot); their replies."""
        pipe = self.client.pipeline(transaction=False)
        queue(pipe)
        return pipe.execute()


class AcknowledgedWriter(Writer):
    """Writes followed by `WAIT replicas timeout_ms` on the same connection."""

    def __init__(self, client, replicas: int, timeout_ms: int) -> None:
        super().__init__(client)
        self.replicas = replicas
        self.timeout_ms = timeout_ms
        self._cluster = hasattr(client, "get_node_from_key")

    def script(self, script, keys: Sequence, args: Sequence):
        def queue(pipe):
            pipe.evalsha(script.sha, len(keys), *keys, *args)

        node, replies = self._attempt(keys[0], queue)
        if isinstance(replies[0], NoScriptError):  # not run: load it where it runs, then run it
            node.script_load(script.script)
            node, replies = self._attempt(keys[0], queue)
        return self._acknowledged(replies)[0]

    def commands(self, key: str, queue: Queue) -> list:
        return self._acknowledged(self._attempt(key, queue)[1])

    def _attempt(self, key: str, queue: Queue) -> tuple[object, list]:
        """The write and its WAIT on one connection of the primary holding `key`. On a Cluster
        a MOVED or ASK reply (the slot changed hands, so the write did not run) refreshes the
        slot map and tries once more, then gives up with `StorageUnavailable`."""
        for _ in range(2):
            node = self._primary(key)
            pipe = node.pipeline(transaction=False)
            queue(pipe)
            pipe.wait(self.replicas, self.timeout_ms)
            try:
                replies = pipe.execute(raise_on_error=False)
            except _LINK_ERRORS:
                self._refresh()  # a lost node: the next write looks for the new primary
                raise
            if not isinstance(replies[0], AskError):
                return node, replies
            self._refresh()
        raise StorageUnavailable(f"RedisStorage: the slot of {key!r} is moving between nodes")

    def _primary(self, key: str):
        """A client of the primary that holds `key`: the client itself unless on a Cluster."""
        if not self._cluster:
            return self.client
        return self.client.get_redis_connection(self.client.get_node_from_key(key))

    def _refresh(self) -> None:
        """Reload a Cluster's slot map (a failed reload leaves it for the next write)."""
        if self._cluster:
            with suppress(*_REFRESH_ERRORS):
                self.client.nodes_manager.initialize()

    def _acknowledged(self, replies: list) -> list:
        """The write's replies, once enough replicas acknowledged it (see the module docstring)."""
        *written, acknowledged = replies
        for reply in (*written, acknowledged):
            if isinstance(reply, Exception):
                raise reply
        if int(acknowledged) < self.replicas:
            raise StorageUnavailable(
                f"RedisStorage: {acknowledged} of {self.replicas} replicas acknowledged the write "
                f"within {self.timeout_ms} ms; it may still have been applied on the primary")
        return written
