"""Storage URIs -> redis-py clients (pooled, with socket timeouts).

Accepted forms (query parameters of redis-py's `from_url`, e.g. `socket_timeout`,
`max_connections`, `health_check_interval`, pass through; `prefix`, `wait_replicas` and
`wait_timeout_ms` are ours, see `OURS`):

- `redis://[user:password@]host[:port][/db]`, `rediss://...` (TLS)
- `unix:///path/to/redis.sock?db=N`, `redis+unix:///path/to/redis.sock?db=N`
- `redis+sentinel://[password@]host:port[,host:port...]/service_name[/db]`
- `redis+cluster://[password@]host:port[,host:port...]` (Redis Cluster; db is always 0)

`SCIM_STORAGE_OPTIONS` may hold `client` (a ready client, e.g. `fakeredis.FakeRedis()`; the URI
then only chooses the backend), any of `OURS` (they override the URI's), `storage_timeout`
(seconds, from SCIM_STORAGE_TIMEOUT: the socket and connect timeouts unless the URI or the
options name those) and any keyword argument for the client (they override the URI's query
parameters).

A call to Redis is tried once: redis-py's default (up to 10 retries with backoff on connection
errors and timeouts) would hold a request for many socket timeouts on a stalled network, and
would send a write again that the server may already have applied. A failed call is a 503 with
Retry-After; the identity provider retries, and a stale pooled connection is replaced when it
is taken from the pool, before any command is sent on it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from scimflask.storage import ConfigurationError

# Fail fast instead of hanging a request when Redis is unreachable (seconds).
DEFAULT_TIMEOUTS = {"socket_timeout": 5.0, "socket_connect_timeout": 5.0}
STORAGE_TIMEOUT = "storage_timeout"  # the storage option that replaces DEFAULT_TIMEOUTS
# Our parameters, not the client's: the key prefix (default `scim:`, so several apps share one
# Redis) and replica acknowledgement (`replicas.AcknowledgedWriter`: every write waits until
# `wait_replicas` replicas have it, for at most `wait_timeout_ms`, default DEFAULT_WAIT_MS).
OURS = ("prefix", "wait_replicas", "wait_timeout_ms")
DEFAULT_WAIT_MS = 1000


def split_ours(uri: str) -> tuple[str, dict[str, str]]:
    """The URI without our query parameters (`OURS`), and their values (the last of each)."""
    head, _, query = uri.partition("?")  # not urlunsplit: it drops the `//` of `unix:///path`
    pairs = parse_qsl(query, keep_blank_values=True)
    ours = {name: value for name, value in pairs if name in OURS}
    rest = urlencode([(name, value) for name, value in pairs if name not in OURS])
    return (f"{head}?{rest}" if rest else head), ours


def durability(values: dict, uri: str, options: dict) -> tuple[int, int]:
    """(replicas each write waits for, the longest wait in ms) from `wait_replicas` and
    `wait_timeout_ms`; (0, 0) when no acknowledgement is asked for.
    The wait must end before the socket timeout, or the client gives up on the WAIT first."""
    replicas = _count(values.get("wait_replicas", 0), "wait_replicas", minimum=0)
    if "wait_timeout_ms" in values and not replicas:
        raise ConfigurationError("redis storage: wait_timeout_ms needs wait_replicas >= 1")
    if not replicas:
        return 0, 0
    timeout_ms = _count(values.get("wait_timeout_ms", DEFAULT_WAIT_MS), "wait_timeout_ms", minimum=1)
    if "socket_timeout" in options:
        socket_timeout = options["socket_timeout"]
    else:
        socket_timeout = dict(parse_qsl(uri.partition("?")[2])).get(
            "socket_timeout", _timeouts(options)["socket_timeout"])
    try:
        too_long = socket_timeout not in (None, "") and timeout_ms >= float(socket_timeout) * 1000
    except (TypeError, ValueError):
        too_long = False  # a bad socket_timeout is reported when the client is built
    if too_long:
        raise ConfigurationError(f"redis storage: wait_timeout_ms={timeout_ms} must be shorter than "
                                 f"socket_timeout={socket_timeout}s")
    return replicas, timeout_ms


def _count(value, name: str, *, minimum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = minimum - 1
    if number < minimum or isinstance(value, bool):
        raise ConfigurationError(f"redis storage: {name} must be an integer >= {minimum}, not {value!r}")
    return number


def make_client(uri: str, options: dict):
    """A redis-py client for `uri` (see the module docstring); `options` are client kwargs."""
    try:
        import redis
    except ImportError as exc:  # an optional dependency: say which extra brings it
        raise ConfigurationError("the redis storage needs redis-py: pip install 'scimflask[redis]'") from exc
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    scheme = urlsplit(uri).scheme.lower()
    options = dict(options)
    kwargs = {**_timeouts(options), "retry": Retry(NoBackoff(), 0), **options}
    kwargs.pop(STORAGE_TIMEOUT, None)
    try:
        if scheme in ("redis", "rediss", "unix"):
            return redis.Redis.from_url(uri, **kwargs)
        if scheme == "redis+unix":
            return redis.Redis.from_url("unix" + uri[len("redis+unix"):], **kwargs)
        if scheme == "redis+sentinel":
            return _sentinel_client(redis, uri, kwargs)
        if scheme == "redis+cluster":
            return _cluster_client(redis, uri, kwargs)
    except ValueError as exc:
        raise ConfigurationError(f"bad redis storage URI {uri!r}: {exc}") from exc
    raise ConfigurationError(f"the redis storage cannot serve {scheme!r} URIs")


def _timeouts(options: dict) -> dict:
    """The default socket and connect timeouts: `storage_timeout` when given."""
    seconds = options.get(STORAGE_TIMEOUT)
    if seconds is None:
        return dict(DEFAULT_TIMEOUTS)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < float("inf"):
        raise ConfigurationError(f"redis storage: {STORAGE_TIMEOUT} must be seconds above 0, not {seconds!r}")
    return {name: float(seconds) for name in DEFAULT_TIMEOUTS}


def _hosts(netloc: str, uri: str) -> tuple[str | None, list[tuple[str, int]]]:
    """(password, [(host, port), ...]) of a comma-separated netloc."""
    password = None
    if "@" in netloc:
        credentials, netloc = netloc.rsplit("@", 1)
        password = unquote(credentials.split(":", 1)[-1]) or None
    hosts = []
    for item in filter(None, netloc.split(",")):
        host, _, port = item.rpartition(":") if ":" in item else (item, "", "")
        try:
            hosts.append((host or item, int(port) if port else 0))
        except ValueError:
            raise ConfigurationError(f"bad host:port {item!r} in redis storage URI {uri!r}") from None
    if not hosts:
        raise ConfigurationError(f"redis storage URI {uri!r} names no host")
    return password, hosts


def _query(parts, kwargs: dict) -> dict:
    from redis.connection import URL_QUERY_ARGUMENT_PARSERS

    out = dict(kwargs)
    for name, value in parse_qsl(parts.query):
        parser = URL_QUERY_ARGUMENT_PARSERS.get(name, str)
        out.setdefault(name, parser(value))
    return out


def _sentinel_client(redis, uri: str, kwargs: dict):
    from redis.sentinel import Sentinel

    parts = urlsplit(uri)
    password, hosts = _hosts(parts.netloc, uri)
    hosts = [(host, port or 26379) for host, port in hosts]
    path = [segment for segment in parts.path.split("/") if segment]
    if not path or len(path) > 2:
        raise ConfigurationError(f"redis+sentinel URI {uri!r} must end in /service_name[/db]")
    kwargs = _query(parts, kwargs)
    if len(path) == 2:
        try:
            kwargs.setdefault("db", int(path[1]))
        except ValueError:
            raise ConfigurationError(f"bad db number in redis storage URI {uri!r}") from None
    if password:
        kwargs.setdefault("password", password)
    sentinel_kwargs = {k: v for k, v in kwargs.items() if k in (*DEFAULT_TIMEOUTS, "password", "retry")}
    sentinel = Sentinel(hosts, sentinel_kwargs=sentinel_kwargs, **kwargs)
    return sentinel.master_for(unquote(path[0]))


def _cluster_client(redis, uri: str, kwargs: dict):
    from redis.cluster import ClusterNode, RedisCluster

    parts = urlsplit(uri)
    password, hosts = _hosts(parts.netloc, uri)
    kwargs = _query(parts, kwargs)
    kwargs.pop("db", None)
    if password:
        kwargs.setdefault("password", password)
    nodes = [ClusterNode(host, port or 6379) for host, port in hosts]
    return RedisCluster(startup_nodes=nodes, **kwargs)
