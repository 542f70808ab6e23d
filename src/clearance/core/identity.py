"""People as the gate counts them: normalised names, roles held (organisation-wide or for
one system), keys with validity windows, and who may do what. Pure: no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

#: the role that manages people, keys, roles, policy and target environments
ADMIN = "admin"
#: names that stand for no person (an unsigned act, the workspace itself)
RESERVED = frozenset({"unsigned", "clearance"})
_ROLE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def normalise_name(name: str) -> str:
    """People are named by e-mail address (or a login name), compared case-insensitively."""
    return name.strip().casefold()


class InvalidName(ValueError):
    pass


def valid_name(name: str) -> str:
    """The normalised name, or InvalidName saying what a name looks like."""
    normal = normalise_name(name)
    if not normal or len(normal) > 200 or any(c.isspace() or not c.isprintable() for c in normal):
        raise InvalidName(
            f'"{name}" is not a person\'s name; use their e-mail address, e.g. dana@example.com'
        )
    if normal in RESERVED:
        raise InvalidName(f'"{name}" is reserved (it names no person); use an e-mail address')
    return normal


@dataclass(frozen=True)
class RoleGrant:
    role: str
    system_id: str | None  # None: organisation-wide

    def __str__(self) -> str:
        return f"{self.system_id}:{self.role}" if self.system_id else self.role

    @classmethod
    def parse(cls, text: str) -> RoleGrant:
        """`ROLE` (organisation-wide) or `SYSTEM:ROLE` (one system); ValueError otherwise."""
        system, _, role = text.strip().rpartition(":")
        role = role.lower()
        if not _ROLE.fullmatch(role):
            raise ValueError(f'"{text}" is not a role; write ROLE or SYSTEM:ROLE, e.g. model-risk')
        return cls(role, system or None)


@dataclass(frozen=True)
class PersonKey:
    key_id: str
    public_raw: bytes
    valid_from: str
    retired_at: str | None

    def valid_at(self, at: str) -> bool:
        """Whether the key could sign at `at` (fixed-width ISO time, UTC)."""
        return self.valid_from <= at and (self.retired_at is None or at < self.retired_at)


@dataclass
class Person:
    name: str
    identity: str
    roles: list[RoleGrant] = field(default_factory=list)
    keys: list[PersonKey] = field(default_factory=list)

    def holds(self, role: str, system_id: str | None = None) -> bool:
        return any(g.role == role.lower() and g.system_id in (None, system_id) for g in self.roles)

    @property
    def admin(self) -> bool:
        return self.holds(ADMIN)

    def valid_keys(self, at: str) -> dict[str, bytes]:
        return {k.key_id: k.public_raw for k in self.keys if k.valid_at(at)}

    def key(self, key_id: str) -> PersonKey | None:
        return next((k for k in self.keys if k.key_id == key_id), None)


class Permission(StrEnum):
    """What an action needs beyond being a registered person."""

    MANAGE_PEOPLE = "manage people and roles"
    MANAGE_KEYS = "manage another person's keys"
    SET_POLICY = "set the policy"
    DECLARE_TARGETS = "declare target environments"


#: every permission is the administrators' today; one table, so a finer role model later
#: changes this mapping and nothing else
GRANTED_BY: dict[Permission, str] = {p: ADMIN for p in Permission}


def permitted(person: Person | None, permission: Permission) -> bool:
    return person is not None and person.holds(GRANTED_BY[permission])
