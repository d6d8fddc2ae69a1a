"""Login limits that cannot be turned against users: wrong secrets are counted per
(address, account) and per account, and only that pair backs off.

A pair gets `free` failures, then waits `base`, 2 × `base`, 4 × `base`... up to `longest`
seconds before its next try counts. When an account collects `account_failures` failures
from all addresses together (a spread-out guess), its pairs lose their free tries: every
address that guesses wrong backs off from its first failure, while an address that has not
failed (the real user's) is never refused. A valid session is never asked at all.

Counts live in Redis, so every `wirewatch web` replica and the API share them:

    >>> limits = LoginLimits(client)                       # doctest: +SKIP
    >>> await limits.wait("10.0.0.1", "ana")               # 0.0: go ahead
    >>> await limits.failed("10.0.0.1", "ana")             # seconds this pair now waits
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from wirewatch.alerts.accounts import KEY_PREFIX, User, UserStore

TOKEN_ACCOUNT = ""  # what the web token, the API token and API keys count under
API_TOKEN_ADMIN = "api token"  # noqa: S105 - who the API token acts as: a name, no secret


@dataclass(frozen=True)
class LoginPolicy:
    free: int = 10  # failures a pair may make before it backs off
    base: float = 30.0  # the first back-off, seconds; doubled per further failure
    longest: float = 900.0
    account_failures: int = 100  # failures of one account, all addresses, that end free tries
    forget: float = 3600.0  # a count is forgotten this long after its last failure

    def delay(self, pair_failures: int, account_failures: int) -> float:
        """How long a pair waits after its latest failure."""
        free = 0 if account_failures >= self.account_failures else self.free
        if pair_failures < max(free, 1):
            return 0.0
        return min(self.longest, self.base * 2.0 ** min(pair_failures - max(free, 1), 30))


# KEYS[1] the pair's hash (n, until), KEYS[2] the account's count.
# ARGV now, free, base, longest, account_failures, forget. Returns the wait as a string.
_FAILED = """
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
local total = redis.call('INCR', KEYS[2])
local forget = tonumber(ARGV[6])
redis.call('EXPIRE', KEYS[1], forget)
redis.call('EXPIRE', KEYS[2], forget)
local free = tonumber(ARGV[2])
if total >= tonumber(ARGV[5]) then free = 0 end
if free < 1 then free = 1 end
local wait = 0
if n >= free then
  wait = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ math.min(n - free, 30))
  redis.call('HSET', KEYS[1], 'until', tonumber(ARGV[1]) + wait)
end
return tostring(wait)
"""


@dataclass
class _Memory:
    """The same counts in this process, for pages served without Redis (tests, one-offs)."""

    pairs: dict[str, tuple[int, float]] = field(default_factory=dict)  # n, until
    accounts: dict[str, int] = field(default_factory=dict)


class LoginLimits:
    """Back-off per (address, account); see the module docstring."""

    def __init__(self, client: aioredis.Redis | None = None, *, prefix: str = "ww:",
                 policy: LoginPolicy | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.client, self.prefix = client, prefix
        self.policy = policy or LoginPolicy()
        self.clock = clock
        self._memory = _Memory()
        self._failed = client.register_script(_FAILED) if client is not None else None

    def _keys(self, address: str, account: str) -> tuple[str, str]:
        # Hashed: addresses and names an attacker sends are no part of a Redis key as-is.
        pair = hashlib.sha256(f"{address}\n{account}".encode()).hexdigest()[:32]
        whose = hashlib.sha256(account.encode()).hexdigest()[:32]
        return f"{self.prefix}logins:pair:{pair}", f"{self.prefix}logins:account:{whose}"

    async def wait(self, address: str, account: str) -> float:
        """Seconds before this pair may try again; 0 when it may now."""
        pair, _ = self._keys(address, account)
        if self.client is None:
            until = self._memory.pairs.get(pair, (0, 0.0))[1]
        else:
            raw = await self.client.hget(pair, "until")
            until = float(raw) if raw is not None else 0.0
        return max(0.0, until - self.clock())

    async def failed(self, address: str, account: str) -> float:
        """Count a wrong secret; returns how long the pair now waits."""
        pair, whose = self._keys(address, account)
        policy, now = self.policy, self.clock()
        if self._failed is not None:
            return float(await self._failed(keys=[pair, whose], args=[
                now, policy.free, policy.base, policy.longest, policy.account_failures,
                int(policy.forget)]))
        memory = self._memory
        if len(memory.pairs) > 10_000:  # bounded memory under a spray of addresses
            memory.pairs.clear()
            memory.accounts.clear()
        count = memory.pairs.get(pair, (0, 0.0))[0] + 1
        memory.accounts[whose] = memory.accounts.get(whose, 0) + 1
        delay = policy.delay(count, memory.accounts[whose])
        memory.pairs[pair] = (count, now + delay if delay else 0.0)
        return delay

    async def succeeded(self, address: str, account: str) -> None:
        """The right secret: this pair starts afresh (the account's count stays)."""
        pair, _ = self._keys(address, account)
        if self.client is None:
            self._memory.pairs.pop(pair, None)
        else:
            await self.client.delete(pair)


async def bearer_user(offered: str, *, token: str, users: UserStore | None,
                      limits: LoginLimits, address: str,
                      token_name: str = API_TOKEN_ADMIN) -> tuple[User | None, float]:
    """Who a bearer secret is: a user's API key, or `token` (an admin named `token_name`).
    Returns (None, seconds) while this address backs off, (None, 0) for a wrong secret
    (counted). A valid API key is never refused: 256 random bits cannot be guessed, so
    letting it through a back-off costs nothing and keeps clients behind a shared address
    working while someone else guesses."""
    if users is not None and offered.startswith(KEY_PREFIX):
        user = await users.user_of_key(offered)
        if user is not None:
            return user, 0.0
    wait = await limits.wait(address, TOKEN_ACCOUNT)
    if wait > 0:
        return None, wait
    if token and hmac.compare_digest(offered.encode(), token.encode()):
        await limits.succeeded(address, TOKEN_ACCOUNT)
        return User(token_name, "admin", 0.0), 0.0
    await limits.failed(address, TOKEN_ACCOUNT)
    return None, 0.0
