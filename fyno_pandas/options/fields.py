"""The parts every option declaration is made of: `Flag`, `Option`, `opt` and checked groups.

Pure; `fyno_pandas.options.model` declares the options themselves with these.
"""

import dataclasses
from collections.abc import Callable
from typing import Any, Literal, get_args, get_origin

from .checks import Check

__all__ = ["Checked", "Flag", "Option", "opt"]


@dataclasses.dataclass(frozen=True)
class Flag:
    """An option's command-line spelling.

    A flag with ``const`` is a switch that sets the option to ``const`` (``--no-ledger``:
    False); an inversion says so in its ``help``. Otherwise it takes a value, read with
    ``parse`` (the option's choices, if its type is a `Literal`, limit it) and defaulting to
    the option's default; ``help`` replaces the option's doc line on ``--help``.
    """

    spelling: str
    help: str | None = None
    parse: Callable[[str], Any] | None = None
    const: Any = ...  # ``...``: the flag takes a value
    #: The flag may be given several times: its parsed values, in order, combined by this.
    repeat: Callable[[list[Any]], Any] | None = None

    @property
    def switch(self) -> bool:
        return self.const is not ...


@dataclasses.dataclass(frozen=True)
class Option:
    """One declared option, as the generated signatures, docs, checks and flags see it."""

    name: str
    group: type
    annotation: Any
    default: Any
    doc: str
    check: Check | None
    flags: tuple[Flag, ...]

    @property
    def choices(self) -> tuple[Any, ...] | None:
        """The values a `Literal` annotation allows (None aside), else None (also when it
        allows other values too: ``int | Literal["auto"]``)."""
        if get_origin(self.annotation) is Literal:
            return get_args(self.annotation)
        parts = [p for p in get_args(self.annotation) if p is not type(None)]
        if parts and all(get_origin(p) is Literal for p in parts):
            return tuple(v for p in parts for v in get_args(p))
        return None


def opt(default: Any, doc: str, *flags: Flag, check: Check | None = None) -> Any:
    """A dataclass field declaring an option (see the module docstring)."""
    meta = {"doc": doc, "check": check, "flags": flags}
    return dataclasses.field(default=default, metadata=meta)


class Checked:
    """Constructing a group checks each field with its declared check."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            check = field.metadata["check"]
            if check is not None:
                check(field.name, getattr(self, field.name))
