"""`Scope`: the destination whose types, values and pushes the ledger keeps apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..client.config import FynoConfig, check_endpoint
from ..errors import FynoConfigError

__all__ = ["Scope"]


@dataclass(frozen=True, slots=True)
class Scope:
    """Endpoint, workspace and version: one destination of the ledger.

    Every `Ledger` method that reads or writes a destination's rows takes a ``Scope`` as its
    first argument. Build it from a resolved configuration with :meth:`of`, or from a
    workspace id with :meth:`resolve`. The endpoint is spelled as `FynoConfig` spells it (no
    trailing slash).
    """

    endpoint: str
    wsid: str
    version: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "endpoint", check_endpoint(self.endpoint))

    @classmethod
    def of(cls, config: Any) -> Scope:
        """The scope of a `FynoConfig` (it must name a workspace)."""
        if config.wsid is None:
            raise FynoConfigError("the ledger keeps values per workspace: wsid is missing")
        return cls(config.endpoint, config.wsid, config.version)

    @classmethod
    def resolve(
        cls, wsid: str | None = None, version: str | None = None, endpoint: str | None = None
    ) -> Scope:
        """The scope `FynoConfig.resolve` makes of these (no key needed): what is not given
        comes from `fyno_pandas.connect`, the ``FYNO_*`` variables, or the defaults."""
        config = FynoConfig.resolve(
            wsid=wsid, version=version, endpoint=endpoint, require_credentials=False
        )
        return cls.of(config)
