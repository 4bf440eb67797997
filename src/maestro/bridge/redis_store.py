"""The bridge's store in Redis: one memory for several workers and instances.

Same contract as :class:`maestro.bridge.grants.BridgeStore` (see that module): every
operation two instances could race on is one Lua script, which Redis runs alone, in
one round trip; so a token is handed out once, an OAuth state is claimed once, and a
rate limit never lets one request more through.

Keys (under ``maestro:bridge:``): ``g:<grant id>`` the grant as JSON, ``u:<user code>``
and ``s:<state hash>`` pointing at it, ``h:<limit key>`` a sorted set of the slots taken
in the sliding window. Grants expire by TTL (their lifetime plus the grace in which a
late poll still hears ``expired_token``), the user code with the grant's lifetime; so
Redis needs no persistence and no sweeping, and its eviction policy must be
``noeviction`` or ``volatile-ttl`` (README: Deploying the bridge). Times are the
bridge's clock, passed in, so TTLs are measured from the caller's ``now``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError

from maestro.bridge.grants import EXPIRED_GRACE_S, Grant, StoreUnavailableError

PREFIX = "maestro:bridge:"
#: Answer within this or count as down: a device hears 503 + Retry-After instead of waiting.
SOCKET_TIMEOUT_S = 2.0
#: Connections per process: plenty for one event loop (each command is one short round trip).
POOL_SIZE = 32

# KEYS and ARGV as named in each script; ``now`` and times are seconds (floats).
_GET_BY_CODE = """
local id = redis.call('GET', KEYS[1])
if not id then return false end
local raw = redis.call('GET', ARGV[1] .. id)
if not raw then return false end
if cjson.decode(raw).expires_at <= tonumber(ARGV[2]) then return false end
return raw
"""

_ADD = """
local id = redis.call('GET', KEYS[2])
if id then
  local raw = redis.call('GET', ARGV[4] .. id)
  if raw and cjson.decode(raw).expires_at > tonumber(ARGV[5]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[6], 'PX', ARGV[3])
return 1
"""

_UPDATE = """
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
if ARGV[2] ~= '' then redis.call('SET', ARGV[3] .. ARGV[2], ARGV[4], 'PX', ttl) end
return 1
"""

_POLL = """
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local grant = cjson.decode(raw)
local now = tonumber(ARGV[1])
local too_fast = 0
if grant.last_poll ~= cjson.null and now - tonumber(grant.last_poll) < grant.interval then
  too_fast = 1
  if grant.status ~= 'approved' and grant.status ~= 'denied' then grant.interval = grant.interval + 5 end
end
grant.last_poll = ARGV[1]  -- the caller's text: cjson would round a float to 14 digits
local encoded = cjson.encode(grant)
redis.call('SET', KEYS[1], encoded, 'KEEPTTL')
return {encoded, too_fast}
"""

_TAKE = """
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local grant = cjson.decode(raw)
if grant.status ~= 'approved' or grant.sealed_tokens == cjson.null then return false end
redis.call('DEL', KEYS[1], ARGV[1] .. grant.user_code)
if grant.state_hash ~= cjson.null then redis.call('DEL', ARGV[2] .. grant.state_hash) end
return grant.sealed_tokens
"""

_CLAIM = """
local id = redis.call('GET', KEYS[1])
if not id then return false end
local key = ARGV[1] .. id
local raw = redis.call('GET', key)
if not raw then return false end
local grant = cjson.decode(raw)
if grant.status ~= 'authorizing' or tonumber(ARGV[2]) >= grant.expires_at then return {raw, 0} end
grant.status = 'exchanging'
local encoded = cjson.encode(grant)
redis.call('SET', key, encoded, 'KEEPTTL')
return {encoded, 1}
"""

_HIT = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then return false end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
return ARGV[4]
"""


class RedisStore:
    """Grants and rate limits in Redis (redis-py's asyncio client; one connection pool per process)."""

    def __init__(self, client: aioredis.Redis, url: str = "redis") -> None:
        self.client = client
        self.url = url
        register = client.register_script  # EVALSHA, re-sent after a Redis restart (NOSCRIPT)
        self._get_by_code = register(_GET_BY_CODE)
        self._add, self._update, self._poll = register(_ADD), register(_UPDATE), register(_POLL)
        self._take, self._claim, self._hit = register(_TAKE), register(_CLAIM), register(_HIT)
        self._slots = asyncio.Semaphore(POOL_SIZE)

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        pool = aioredis.ConnectionPool.from_url(
            url, decode_responses=True, socket_connect_timeout=SOCKET_TIMEOUT_S
        )
        return cls(aioredis.Redis(connection_pool=pool), _without_password(url))

    async def _call(self, command: Callable[[], Awaitable[Any]]) -> Any:
        """One Redis command. At most POOL_SIZE in flight, so a burst of requests shares a few
        connections instead of opening hundreds at once (which the listen backlog refuses); one
        deadline for the whole command (cheaper than redis-py's per-read socket timeout); any
        failure is StoreUnavailableError."""
        async with self._slots:
            try:
                async with asyncio.timeout(SOCKET_TIMEOUT_S):
                    return await command()
            except (RedisError, OSError, TimeoutError) as exc:
                raise StoreUnavailableError(f"Redis at {self.url}: {type(exc).__name__}") from exc

    async def _run(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        async def run() -> Any:
            try:
                return await self.client.evalsha(script.sha, len(keys), *keys, *args)
            except NoScriptError:  # Redis restarted and forgot the scripts: load them again
                return await script(keys=keys, args=args)

        return await self._call(run)

    async def add(self, grant: Grant, now: float) -> bool:
        lives_ms = _ms(grant.expires_at - now)
        added = await self._run(
            self._add,
            [_key("g", grant.id), _key("u", grant.user_code)],
            [_encode(grant), lives_ms + EXPIRED_GRACE_S * 1000, lives_ms, _key("g", ""), now, grant.id],
        )
        return bool(added)

    async def by_user_code(self, user_code: str, now: float) -> Grant | None:
        raw = await self._run(self._get_by_code, [_key("u", user_code)], [_key("g", ""), now])
        return _decode(raw) if raw else None

    async def update(self, grant: Grant) -> None:
        await self._run(self._update, [_key("g", grant.id)],
                        [_encode(grant), grant.state_hash or "", _key("s", ""), grant.id])  # fmt: skip

    async def poll(self, grant_id: str, now: float) -> tuple[Grant | None, bool]:
        found = await self._run(self._poll, [_key("g", grant_id)], [repr(now)])
        if not found:
            return None, False
        raw, too_fast = found
        return _decode(raw), bool(too_fast)

    async def take_tokens(self, grant_id: str) -> str | None:
        sealed = await self._run(self._take, [_key("g", grant_id)], [_key("u", ""), _key("s", "")])
        return str(sealed) if sealed else None

    async def claim_state(self, state_hash: str, now: float) -> tuple[Grant | None, bool]:
        found = await self._run(self._claim, [_key("s", state_hash)], [_key("g", ""), now])
        if not found:
            return None, False
        raw, claimed = found
        return _decode(raw), bool(claimed)

    async def hit(self, key: str, limit: int, window_s: float, now: float) -> str | None:
        ticket = uuid.uuid4().hex
        taken = await self._run(self._hit, [_key("h", key)], [now, window_s, limit, ticket])
        return str(taken) if taken else None

    async def release(self, key: str, ticket: str) -> None:
        await self._call(lambda: self.client.zrem(_key("h", key), ticket))

    async def sweep(self, now: float) -> int:
        return 0  # TTLs forget expired grants and old rate-limit slots

    async def health(self) -> None:
        await self._call(self.client.ping)

    async def close(self) -> None:
        await self.client.aclose()


def _key(kind: str, name: str) -> str:
    return f"{PREFIX}{kind}:{name}"


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _encode(grant: Grant) -> str:
    return json.dumps(dataclasses.asdict(grant), separators=(",", ":"))


def _decode(raw: str) -> Grant:
    fields = json.loads(raw)
    fields["last_poll"] = None if fields.get("last_poll") is None else float(fields["last_poll"])
    fields["interval"] = int(fields["interval"])
    return Grant(**{name: fields.get(name) for name in Grant.__dataclass_fields__})


def _without_password(url: str) -> str:
    """The URL fit for a log line: no password (secrets never reach logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username + ':' if parts.username else ''}***@{host}"
    return urlunsplit(parts._replace(netloc=netloc + (f":{parts.port}" if parts.port else "")))
