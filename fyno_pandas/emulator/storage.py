"""Fyno's storage and typing rules for user properties: pure data, no HTTP, no threads.

This is the emulator's own reading of Fyno's "Update User Property" page (the seed), written
without looking at how the rest of fyno_pandas encodes values, so that the two readings check
each other.

Validation (the request is refused with HTTP 400)
-------------------------------------------------
- ``distinct_id`` must be a non-empty string.
- ``$set`` / ``$once`` must be a non-empty JSON object; a value that is an object or ``null``, or a
  list holding an object, a list or ``null``, is refused with ``"$set has object/keys that is not
  allowed"`` (``$once`` for set-once).
- ``$add`` must be a non-empty object of numbers (``true``/``false`` are not numbers).
- ``$append`` / ``$remove`` must be a non-empty object of strings or numbers.
- ``$unset`` must be a non-empty list of non-empty strings.

Typing (the request is accepted, HTTP 202)
------------------------------------------
Each (workspace, version) has one table of property types. A property that does not exist yet
takes the type of its first *stored* value:

- ``true``/``false`` -> ``"boolean"`` (checked before numbers: in Python ``bool`` is an ``int``);
- an integer or decimal -> ``"number"``;
- a string that reads as an ISO-8601 date -> ``"date"``. Fyno documents five forms
  (``2020-10-01``, ``2020-10-01T18:30:00Z``, ``...:00.000Z``, ``...:00+02:00``,
  ``...:00.000+05:30``) and not how it reads others, so the emulator reads dates the way that
  loses most data (the worst case the client must guard against): ``YYYY-MM-DD``, optionally
  followed by ``T``, ``t`` or a space, ``HH:MM``, optional ``:SS``, an optional fraction of any
  length (after ``.`` or ``,``) and an optional offset ``Z``, ``z``, ``+HH``, ``+HHMM`` or
  ``+HH:MM`` (or ``-``); the date must be a real calendar day, the time within 23:59:59 and the
  offset within 23:59;
- any other string of at most 255 characters -> ``"string"``;
- a list of strings (<= 255 characters each), numbers and dates -> ``"list"`` (a list of dates, or
  a mixed list, is still a list; the elements keep no type of their own). An empty list is a list.

Silent drops (accepted with 202, the value is *not stored*, and a property is not created by it):

- a value whose type differs from the property's fixed type (a number on a String property, a
  string on a Number property, a non-date string on a Date property, ...);
- a string longer than 255 characters, also inside a list;
- a *malformed date*: a string of one of those shapes that is not a real date or time
  (``2021-02-30``, ``2023-04-31 10:00``, ``2021-01-01T25:00:00Z``, offset ``+24:00``), also
  inside a list (a strict reader refuses it). On an existing String property such a string is
  stored as a string, like any other string of at most 255 characters;
- a list holding a boolean;
- a number too large for a double (``1e400`` is valid JSON but decodes to infinity), also inside a
  list or as an ``$add`` amount.

On an existing String property, an ISO-looking string is stored as a string (the property's type
is fixed, and a date is text on the wire). On a Date property, only valid dates are stored; the
text is kept as sent.

Operations
----------
Every accepted operation creates the user if the distinct_id is new (upsert), even when no value
ends up stored.

- set: store each value by the rules above (replacing the user's current value).
- set-once: like set, for the properties the user has no value for yet.
- numerical-add: on a Number property (or a new one, which becomes Number) add to the user's
  value, starting from 0; on a property of another type, not stored.
- list-append / list-remove: on a List property (or, for append, a new one, which becomes List)
  append the scalar to / remove every equal element from the user's list; a scalar that would not
  be a valid list element is not stored; on a property of another type, not stored.
- unset: remove the user's values for the named properties; the property's type stays fixed.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

__all__ = [
    "MAX_STRING",
    "OPERATIONS",
    "Store",
    "fyno_type",
    "validate_action",
    "validate_distinct_id",
]

MAX_STRING = 255

#: URL operation -> the body key holding its argument.
OPERATIONS: dict[str, str] = {
    "set": "$set",
    "set-once": "$once",
    "numerical-add": "$add",
    "list-append": "$append",
    "list-remove": "$remove",
    "unset": "$unset",
}

# Every shape some ISO-8601 reader takes for a date (see the module docstring); digits only, so
# that "shaped like a date but not one" (malformed) is caught too.
_DATE_SHAPE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?(?:[Zz]|([+-])(\d{2})(?::?(\d{2}))?)?)?"
)

# JSON has no infinity, but a number beyond a double's range decodes to one.
_INFINITE = (float("inf"), float("-inf"))


def _date_kind(text: str) -> str | None:
    """``"date"`` for a valid documented date, ``"malformed"`` for a broken one, else None."""
    # Cheap pre-check: most strings are not dates, and fullmatch is the costly part.
    if len(text) < 10 or text[4:5] != "-" or not text[:4].isdigit():
        return None
    m = _DATE_SHAPE.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, _sign, off_h, off_m = m.groups()
    try:
        dt.date(int(year), int(month), int(day))
        if hour is not None:
            dt.time(int(hour), int(minute), int(second or 0))
        if off_h is not None and (int(off_h) > 23 or int(off_m or 0) > 59):
            return "malformed"
    except ValueError:
        return "malformed"
    return "date"


def _list_ok(values: list[Any]) -> bool:
    """True when every element can be stored in a List property."""
    for item in values:
        if isinstance(item, bool):
            return False
        if isinstance(item, str):
            if len(item) > MAX_STRING or _date_kind(item) == "malformed":
                return False
        elif not isinstance(item, (int, float)) or item in _INFINITE:
            return False
    return True


def fyno_type(value: Any) -> str | None:
    """The Fyno type a value would give a new property, or None when it cannot be stored.

    Parameters
    ----------
    value
        A value decoded from JSON that passed :func:`validate_action`.

    Returns
    -------
    str or None
        One of ``"boolean"``, ``"number"``, ``"date"``, ``"string"``, ``"list"``; None for an
        over-long string, a malformed date or an invalid list.
    """
    if isinstance(value, bool):  # before numbers: bool is an int subclass
        return "boolean"
    if isinstance(value, (int, float)):
        return None if value in _INFINITE else "number"
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            return None
        kind = _date_kind(value)
        if kind == "malformed":
            return None
        return kind or "string"
    if isinstance(value, list):
        return "list" if _list_ok(value) else None
    return None


def _fits(value: Any, ptype: str) -> bool:
    """True when ``value`` may be stored in an existing property of type ``ptype``."""
    if ptype == "string":
        # An ISO-looking (even malformed) string is still text for a String property.
        return isinstance(value, str) and len(value) <= MAX_STRING
    if ptype == "date":
        return isinstance(value, str) and _date_kind(value) == "date"
    return fyno_type(value) == ptype


def validate_distinct_id(body: dict[str, Any]) -> str | None:
    """The 400 message for a bad ``distinct_id``, or None when it is a non-empty string."""
    did = body.get("distinct_id")
    if not isinstance(did, str) or not did:
        return "distinct_id should be a non-empty string"
    return None


def _bad_value(key: str, value: Any) -> bool:
    """True when a property value is refused with 400 for the action ``key``."""
    if key in ("$set", "$once"):
        if value is None or isinstance(value, dict):
            return True
        if isinstance(value, list):
            return any(item is None or isinstance(item, (dict, list)) for item in value)
        return False
    if key == "$add":
        return isinstance(value, bool) or not isinstance(value, (int, float))
    # $append / $remove take one scalar element
    return isinstance(value, bool) or not isinstance(value, (str, int, float))


def validate_action(key: str, arg: Any) -> str | None:
    """The 400 message for one action's argument (``key`` like ``"$set"``), or None when valid."""
    if key == "$unset":
        if not isinstance(arg, list) or not arg:
            return "$unset channel should have atleast one item in array"
        if not all(isinstance(name, str) and name for name in arg):
            return "$unset should be a list of property names"
        return None
    if key not in ("$set", "$once", "$add", "$append", "$remove"):
        return f"{key} is not a supported action"
    if not isinstance(arg, dict) or not arg:
        return f"{key} should have atleast one property"
    for value in arg.values():
        if _bad_value(key, value):
            return f"{key} has object/keys that is not allowed"
    return None


class Store:
    """Profiles and fixed property types of one (workspace, version). Not thread-safe.

    Attributes
    ----------
    profiles : dict
        ``{distinct_id: {property: value}}``.
    property_types : dict
        ``{property: fyno type}``; an entry is never removed (types stay fixed) until reset.
    """

    __slots__ = ("profiles", "property_types")

    def __init__(self) -> None:
        self.profiles: dict[str, dict[str, Any]] = {}
        self.property_types: dict[str, str] = {}

    def apply(self, distinct_id: str, key: str, arg: Any) -> None:
        """Apply one validated action (``key`` like ``"$set"``) to a user, creating the user."""
        profile = self.profiles.get(distinct_id)
        if profile is None:
            profile = self.profiles[distinct_id] = {}
        if key == "$unset":
            for name in arg:
                profile.pop(name, None)
            return
        handler = _HANDLERS[key]
        for name, value in arg.items():
            handler(self, profile, name, value)

    def _set(self, profile: dict[str, Any], name: str, value: Any) -> None:
        ptype = self.property_types.get(name)
        if ptype is None:
            ptype = fyno_type(value)
            if ptype is None:
                return  # an unstorable first value does not create the property
            self.property_types[name] = ptype
        elif not _fits(value, ptype):
            return
        # Lists are copied so that appends never reach into the request log's parsed body.
        profile[name] = list(value) if ptype == "list" else value

    def _set_once(self, profile: dict[str, Any], name: str, value: Any) -> None:
        if name not in profile:
            self._set(profile, name, value)

    def _add(self, profile: dict[str, Any], name: str, value: Any) -> None:
        if value in _INFINITE:
            return
        ptype = self.property_types.setdefault(name, "number")
        if ptype == "number":
            profile[name] = profile.get(name, 0) + value

    def _append(self, profile: dict[str, Any], name: str, value: Any) -> None:
        if not _list_ok([value]):
            return
        ptype = self.property_types.setdefault(name, "list")
        if ptype == "list":
            profile.setdefault(name, []).append(value)

    def _remove(self, profile: dict[str, Any], name: str, value: Any) -> None:
        current = profile.get(name)
        if self.property_types.get(name) == "list" and current is not None:
            profile[name] = [item for item in current if not _same(item, value)]


def _same(a: Any, b: Any) -> bool:
    """JSON equality of two list elements (``1 == 1.0``, but a string never equals a number)."""
    return isinstance(a, str) == isinstance(b, str) and a == b


_HANDLERS = {
    "$set": Store._set,
    "$once": Store._set_once,
    "$add": Store._add,
    "$append": Store._append,
    "$remove": Store._remove,
}
