"""The bridge's store in Redis: one memory for several workers and instances.

Same contract as :class:`maestro.bridge.grants.BridgeStore` (see that module): every
operation two instances could race on is one Lua script, which Redis runs alone, in
one round trip; so a token is handed out once, an OAuth state is claimed once, and a
rate limit never lets one request more through.

Keys (under ``maestro:bridge:``): ``g:<grant id>`` the grant as JSON, ``u:<user code>``
and ``s:<state hash>`` pointing at it, ``h:<limit key>`` a sorted set of the slots taken
in the sliding window. A grant, its user code and its state expire by TTL with the
grant's lifetime (a poll for a grant that is gone hears ``expired_token`` all the
same); so Redis needs no persistence and no sweeping, and its eviction policy must be
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
from redis.exceptions import NoScriptError, OutOfMemoryError, RedisError

from maestro.bridge.grants import Grant, StoreFullError, StoreUnavailableError

PREFIX = "maestro:bridge:"
#: Answer within this or count as down: a device hears 503 + Retry-After instead of waiting.
SOCKET_TIMEOUT_S = 2.0
#: Connections per process: plenty for one event loop (each command is one short round trip).
POOL_SIZE = 32
#: Share of ``maxmemory`` above which /healthz reports the store full.
FULL_AT = 0.9

# KEYS and ARGV as named in each script; ``now`` and times are seconds (floats).
_GET_BY_CODE = """
local id = redis.call('GET', KEYS[1])
if not id then return false end
local raw = redis.call('GET', ARGV[1] .. id)
if not raw then return false end
if cjson.decode(raw).expires_at <= tonumber(ARGV[2]) then return false end
return raw
"""

# A state key outlives a state that a second confirmation replaced: the grant must still hold it.
_GET_BY_STATE = """
local id = redis.call('GET', KEYS[1])
if not id then return false end
local raw = redis.call('GET', ARGV[1] .. id)
if not raw then return false end
local grant = cjson.decode(raw)
if grant.state_hash ~= ARGV[3] or grant.expires_at <= tonumber(ARGV[2]) then return false end
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
if grant.last_poll and grant.last_poll ~= cjson.null and now - tonumber(grant.last_poll) < grant.interval then
  too_fast = 1
  local s = grant.status
  if s == 'pending' or s == 'authorizing' or s == 'exchanging' then grant.interval = grant.interval + 5 end
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
if grant.status ~= 'approved' or not grant.sealed_tokens or grant.sealed_tokens == cjson.null then
  return false
end
local sealed = grant.sealed_tokens
grant.status, grant.sealed_tokens, grant.code_verifier = 'delivered', nil, nil
redis.call('SET', KEYS[1], cjson.encode(grant), 'KEEPTTL')
return sealed
"""

_CLAIM = """
local id = redis.call('GET', KEYS[1])
if not id then return false end
local key = ARGV[1] .. id
local raw = redis.call('GET', key)
if not raw then return false end
local grant = cjson.decode(raw)
if grant.state_hash ~= ARGV[3] then return false end
if grant.status ~= 'authorizing' or tonumber(ARGV[2]) >= grant.expires_at then return {raw, 0} end
grant.status = 'exchanging'
local encoded = cjson.encode(grant)
redis.call('SET', key, encoded, 'KEEPTTL')
return {encoded, 1}
"""

_HIT = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
for _, later in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')) do
  redis.call('ZADD', KEYS[1], now, later)  -- the clock went back: taken now, free a window later
end
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
        self._get_by_code, self._get_by_state = register(_GET_BY_CODE), register(_GET_BY_STATE)
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
            except OutOfMemoryError as exc:  # at maxmemory with noeviction: reads work, writes do not
                raise StoreFullError(f"Redis at {self.url}: full (maxmemory)") from exc
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
            [_encode(grant), lives_ms, lives_ms, _key("g", ""), now, grant.id],
        )
        return bool(added)

    async def by_user_code(self, user_code: str, now: float) -> Grant | None:
        raw = await self._run(self._get_by_code, [_key("u", user_code)], [_key("g", ""), now])
        return _decode(raw) if raw else None

    async def by_state(self, state_hash: str, now: float) -> Grant | None:
        raw = await self._run(self._get_by_state, [_key("s", state_hash)], [_key("g", ""), now, state_hash])
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
        found = await self._run(self._claim, [_key("s", state_hash)], [_key("g", ""), now, state_hash])
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
        # A write, not PING: at maxmemory Redis answers PING but refuses every new grant. Near it,
        # small writes still pass while a grant does not: nine tenths full counts as full.
        await self._call(lambda: self.client.set(_key("health", ""), "1", px=10_000))
        memory = await self._call(lambda: self.client.info("memory"))
        limit = int(memory.get("maxmemory", 0))
        if limit and int(memory.get("used_memory", 0)) > FULL_AT * limit:
            raise StoreFullError(f"Redis at {self.url}: nearly full (maxmemory)")

    async def close(self) -> None:
        await self.client.aclose()


def _key(kind: str, name: str) -> str:
    return f"{PREFIX}{kind}:{name}"


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _encode(grant: Grant) -> str:
    """Compact JSON: empty fields left out (a grant in Redis costs what it holds, no more)."""
    fields = {k: v for k, v in dataclasses.asdict(grant).items() if v is not None and v != ""}
    return json.dumps(fields, separators=(",", ":"))


def _decode(raw: str) -> Grant:
    fields = json.loads(raw)
    fields["last_poll"] = None if fields.get("last_poll") is None else float(fields["last_poll"])
    fields.setdefault("device_name", "")
    fields["interval"] = int(fields["interval"])
    return Grant(**{name: fields[name] for name in Grant.__dataclass_fields__ if name in fields})


def _without_password(url: str) -> str:
    """The URL fit for a log line: no password (secrets never reach logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username + ':' if parts.username else ''}***@{host}"
    return urlunsplit(parts._replace(netloc=netloc + (f":{parts.port}" if parts.port else "")))
