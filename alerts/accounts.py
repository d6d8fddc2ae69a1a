"""Accounts in Redis: users with a role, an argon2id password hash and hashed API keys.

    >>> users = UserStore(client)                      # doctest: +SKIP
    >>> await users.add("ana", "subscriber", "s3cret")  # doctest: +SKIP
    >>> key = await users.create_key("ana")             # shown once; Redis keeps its sha256

Roles rank subscriber < operator < admin: a subscriber sees and changes only their own
subscriptions and silences, an operator everything but users, an admin users too.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Literal, get_args

import redis.asyncio as aioredis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from wirewatch.alerts.errors import AlertsError

Role = Literal["subscriber", "operator", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
NAME = re.compile(r"[a-z0-9][a-z0-9._@+-]{0,63}")  # also e-mail addresses for proxy logins
KEY_PREFIX = "wwk_"  # makes a leaked key easy to recognise (and to scan for)
_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the user does not exist, so a wrong name costs the same time as
# a wrong password and does not tell which names exist.
_DUMMY = _HASHER.hash(secrets.token_urlsafe(16))


class AccountError(AlertsError):
    """A user command or lookup that cannot be done; the message says why."""


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise AccountError(f"user name {name!r}: 1 to 64 of a-z 0-9 . _ @ + -, starting "
                           "with a letter or digit")
    return name


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise AccountError(f"role {role!r}: one of {', '.join(ROLES)}")
    return role


def at_least(role: str, needed: Role) -> bool:
    """Whether `role` has the rights of `needed` (an unknown role has none)."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def key_digest(key: str) -> str:
    # API keys are 256 random bits: a fast hash is enough (nothing to brute-force), and it
    # lets one Redis lookup find the key's owner.
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    created: float
    password_hash: str = ""  # empty: no password (logs in by API key or the proxy only)

    def at_least(self, needed: Role) -> bool:
        return at_least(self.role, needed)

    @property
    def sees_all(self) -> bool:
        """Operators and admins see and change every owner's subscriptions and silences."""
        return self.at_least("operator")

    def owns(self, owner: str) -> bool:
        return self.sees_all or owner == self.name


@dataclass(frozen=True)
class ApiKey:
    key_id: str  # the first characters of the key's digest: names it in lists and revokes
    user: str
    created: float


class UserStore:
    """A hash of users (name -> JSON) and a hash of API keys (sha256 of the key -> JSON)."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "ww:") -> None:
        self.client = client
        self.key = f"{prefix}users"
        self.keys_key = f"{prefix}users:keys"
        self.secret_key = f"{prefix}users:session-secret"

    async def add(self, name: str, role: str, password: str = "") -> User:
        user = User(check_name(name), check_role(role), time.time(),
                    await _hash(password) if password else "")
        if not await self.client.hsetnx(self.key, user.name, _dump(user)):
            raise AccountError(f"user {name!r} exists already")
        return user

    async def get(self, name: str) -> User | None:
        raw = await self.client.hget(self.key, name)
        return _load(name, raw) if raw is not None else None

    async def list(self) -> builtins.list[User]:
        stored = await self.client.hgetall(self.key)
        found = (_load(name.decode(), raw) for name, raw in sorted(stored.items()))
        return [user for user in found if user is not None]

    async def remove(self, name: str) -> bool:
        """Remove the user and revoke their keys; their sessions end at the next request."""
        for key in await self.keys_of(name):
            await self.revoke_key(name, key.key_id)
        return bool(await self.client.hdel(self.key, name))

    async def set_role(self, name: str, role: str) -> User:
        user = await self._existing(name)
        changed = User(user.name, check_role(role), user.created, user.password_hash)
        await self.client.hset(self.key, name, _dump(changed))
        return changed

    async def set_password(self, name: str, password: str) -> User:
        user = await self._existing(name)
        changed = User(user.name, user.role, user.created,
                       await _hash(password) if password else "")
        await self.client.hset(self.key, name, _dump(changed))
        return changed

    async def verify(self, name: str, password: str) -> User | None:
        """The user when `password` is theirs, else None (unknown user, no password, wrong)."""
        user = await self.get(name) if NAME.fullmatch(name) else None
        stored = user.password_hash if user is not None and user.password_hash else _DUMMY
        try:
            await asyncio.to_thread(_HASHER.verify, stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or stored is _DUMMY:
            return None
        if _HASHER.check_needs_rehash(stored):  # parameters got stronger since it was set
            await self.client.hset(self.key, name, _dump(User(
                user.name, user.role, user.created, await _hash(password))))
        return user

    async def create_key(self, name: str) -> str:
        """A new API key for the user: returned once, only its digest is kept."""
        await self._existing(name)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        await self.client.hset(self.keys_key, key_digest(key),
                               json.dumps({"user": name, "created": time.time()}))
        return key

    async def keys_of(self, name: str) -> builtins.list[ApiKey]:
        found = []
        for digest, raw in (await self.client.hgetall(self.keys_key)).items():
            entry = json.loads(raw)
            if entry.get("user") == name:
                found.append(ApiKey(digest.decode()[:12], name, float(entry.get("created", 0))))
        return sorted(found, key=lambda key: key.created)

    async def revoke_key(self, name: str, key_id: str) -> bool:
        """Revoke the user's key whose id (a prefix of its digest, 6 characters or more) is
        `key_id`; False when they have none such."""
        if len(key_id) < 6:
            return False
        for digest, raw in (await self.client.hgetall(self.keys_key)).items():
            if digest.decode().startswith(key_id) and json.loads(raw).get("user") == name:
                return bool(await self.client.hdel(self.keys_key, digest))
        return False

    async def user_of_key(self, key: str) -> User | None:
        """The user an API key belongs to, None for an unknown or revoked key (or user)."""
        if not key.startswith(KEY_PREFIX):
            return None
        raw = await self.client.hget(self.keys_key, key_digest(key))
        if raw is None:
            return None
        return await self.get(str(json.loads(raw).get("user", "")))

    async def session_secret(self) -> str:
        """The secret every web replica signs sessions with, made once and kept in Redis."""
        await self.client.set(self.secret_key, secrets.token_hex(32), nx=True)
        return str((await self.client.get(self.secret_key) or b"").decode())

    async def _existing(self, name: str) -> User:
        user = await self.get(name)
        if user is None:
            raise AccountError(f"no user {name!r}")
        return user


async def _hash(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, password)  # ~50 ms of CPU: off the loop


def _dump(user: User) -> str:
    return json.dumps({"role": user.role, "created": user.created,
                       "password": user.password_hash})


def _load(name: str, raw: bytes) -> User | None:
    try:
        entry = json.loads(raw)
        role = entry.get("role", "")
        return User(name, check_role(role), float(entry.get("created", 0)),
                    str(entry.get("password", "")))
    except (ValueError, AttributeError, AccountError):
        return None  # damaged or written by a newer version: no rights rather than a crash
