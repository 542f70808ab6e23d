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


#: what a registered name stands for: a person, or a service account (CI) that calls the
#: API with a token and never holds a signing key, so never signs off
KINDS = ("person", "service")


@dataclass
class Person:
    name: str
    identity: str
    roles: list[RoleGrant] = field(default_factory=list)
    keys: list[PersonKey] = field(default_factory=list)
    kind: str = "person"

    @property
    def service(self) -> bool:
        return self.kind == "service"

    def sees(self, system_id: str) -> bool:
        """Whether this person may see a system's records over the API: an organisation-wide
        role (administrators, auditors, org-wide approvers) or a role for that system."""
        return any(g.system_id in (None, system_id) for g in self.roles)

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
    MANAGE_TOKENS = "manage API tokens"
    MANAGE_WEBHOOKS = "manage webhook subscriptions"


#: every permission is the administrators' today; one table, so a finer role model later
#: changes this mapping and nothing else
GRANTED_BY: dict[Permission, str] = {p: ADMIN for p in Permission}


def permitted(person: Person | None, permission: Permission) -> bool:
    return person is not None and person.holds(GRANTED_BY[permission])


class Scope(StrEnum):
    """What an API token lets its holder do; a token never lets anyone do more than the
    person or service account it belongs to may do."""

    READ = "read"  # systems, plans, evaluations, evidence, the log, packs
    WRITE = "write"  # submit plans, add evidence, run the gate, record releases
    SIGN = "sign"  # record statements signed with the holder's own key
    ADMIN = "admin"  # people, roles, keys, tokens, policy, targets


#: a service account's token never carries these (it holds no key, so never signs)
PERSON_ONLY = frozenset({Scope.SIGN, Scope.ADMIN})


def parse_scopes(texts: list[str] | tuple[str, ...]) -> frozenset[Scope]:
    """Scopes from `read`, `write`, `sign`, `admin` (comma-separated or repeated);
    ValueError naming the accepted ones."""
    found: set[Scope] = set()
    for text in texts:
        for part in text.split(","):
            part = part.strip().lower()
            if not part:
                continue
            try:
                found.add(Scope(part))
            except ValueError:
                accepted = ", ".join(s.value for s in Scope)
                raise ValueError(f'"{part}" is not a token scope; use {accepted}') from None
    return frozenset(found)
