"""Scheduled commands as data, so that any process of a fleet can run one another
process scheduled (paysandbox.shared.schedule).

Only the commands that are scheduled are known here (expiries, settlements, a shopper's
or handset's answer, dispute steps and deadlines): each is a frozen dataclass of plain
values and enums, written as JSON and read back field by field. Reading never constructs
anything but these classes and their enums; an unknown type, or a field it does not
have, is refused with `BadCommand`.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from typing import Any

import orjson

from paysandbox.core.commands import (
    Command,
    Complete,
    Expire,
    ExpireDispute,
    OpenDispute,
    Record,
    Renew,
    ReopenDispute,
    ResolveDispute,
    Settle,
    UpdateDispute,
    Void,
    Writes,
)

__all__ = ["SCHEDULED", "BadCommand", "Scheduled", "decode", "encode"]

#: The commands a provider or the engine schedules today (grep `schedule(`); another
#: one is refused when scheduled, with what to add here.
SCHEDULED: dict[str, type[Command]] = {c.__name__: c for c in (
    Complete, Expire, Void, OpenDispute, UpdateDispute, ReopenDispute, ResolveDispute,
    ExpireDispute, Renew, Settle)}


class BadCommand(ValueError):
    """A command this codec cannot write, or a stored one it cannot read."""


def _enum_of(hint: Any) -> type[enum.Enum] | None:
    """The enum a field holds (`DisputeStatus` or `DisputeStatus | None`), if any."""
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        for arg in typing.get_args(hint):
            if isinstance(arg, type) and issubclass(arg, enum.Enum):
                return arg
    return None


# Per class: each field's name and the enum it holds (None: a plain JSON value).
_FIELDS: dict[str, tuple[tuple[str, type[enum.Enum] | None], ...]] = {
    name: tuple((f.name, _enum_of(typing.get_type_hints(cls)[f.name]))
                for f in dataclasses.fields(cls) if f.name != "writes")
    for name, cls in SCHEDULED.items()}


@dataclasses.dataclass(frozen=True, slots=True)
class Scheduled:
    """One scheduled command: for whom (provider, namespace), when (virtual time) and
    what; `token` tells two identical commands apart."""

    token: str
    provider: str
    namespace: str
    at: float
    command: Command


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _writes(w: Writes) -> dict[str, Any] | None:
    if not w:
        return None
    return {"aliases": list(w.aliases),
            "records": [_record(r) for r in w.records],
            "on_action": [_record(r) for r in w.on_action]}


def _record(r: Record) -> dict[str, Any]:
    return {"kind": r.kind, "id": r.id, "value": _plain(r.value), "namespace": r.namespace}


def encode(item: Scheduled) -> bytes:
    """The JSON of one scheduled command; BadCommand for a type not in SCHEDULED."""
    command = item.command
    kind = type(command).__name__
    if SCHEDULED.get(kind) is not type(command):
        raise BadCommand(f"{kind} cannot be scheduled across a fleet: the shared schedule "
                         f"knows {', '.join(SCHEDULED)} (paysandbox/shared/codec.py)")
    fields = {name: _plain(getattr(command, name)) for name, _ in _FIELDS[kind]}
    doc: dict[str, Any] = {"v": 1, "token": item.token, "provider": item.provider,
                           "namespace": item.namespace, "at": item.at, "type": kind,
                           "fields": fields}
    writes = _writes(command.writes)
    if writes is not None:
        doc["writes"] = writes
    return orjson.dumps(doc)


def _load_records(raw: Any) -> tuple[Record, ...]:
    return tuple(Record(str(r["kind"]), str(r["id"]), dict(r["value"]), r.get("namespace"))
                 for r in raw or ())


def decode(raw: bytes | str) -> Scheduled:
    """A scheduled command back from `encode`'s JSON; BadCommand for anything else."""
    try:
        doc = orjson.loads(raw)
        kind = doc["type"]
        cls: type[Any] | None = SCHEDULED.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise BadCommand(f"a scheduled command of unknown type {kind!r}; known: "
                             f"{', '.join(SCHEDULED)}")
        given = doc["fields"]
        known = dict(_FIELDS[kind])
        unknown = set(given) - set(known)
        if unknown:
            raise BadCommand(f"a scheduled {kind} with unknown fields {sorted(unknown)}")
        kwargs: dict[str, Any] = {}
        for name, value in given.items():
            as_enum = known[name]
            kwargs[name] = as_enum(value) if as_enum is not None and value is not None \
                else value
        w = doc.get("writes")
        if w:
            kwargs["writes"] = Writes(tuple(w["aliases"]), _load_records(w["records"]),
                                      _load_records(w["on_action"]))
        return Scheduled(str(doc["token"]), str(doc["provider"]), str(doc["namespace"]),
                         float(doc["at"]), cls(**kwargs))
    except BadCommand:
        raise
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise BadCommand(f"a scheduled command that does not read back: {exc}") from None
