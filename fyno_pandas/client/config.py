"""Connection settings: explicit arguments first, then `fyno_pandas.connect`, then the ``FYNO_*``
environment variables.

The variable names are the ones Fyno's own SDK reads: ``FYNO_WSID``, ``FYNO_API_KEY``,
``FYNO_VERSION`` (default ``live``) and ``FYNO_ENDPOINT`` (default ``https://api.fyno.io/v1``).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..errors import FynoConfigError
from .connection import connected

__all__ = ["DEFAULT_ENDPOINT", "VERSIONS", "FynoConfig", "check_endpoint"]

DEFAULT_ENDPOINT = "https://api.fyno.io/v1"
VERSIONS = ("live", "test")


def _is_loopback(host: str) -> bool:
    # "localhost" itself and literal loopback addresses only: a name under ".localhost" is looked
    # up like any other (not every resolver keeps it local), and DNS may answer any address.
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(endpoint: str) -> str:
    """Validate an endpoint URL and return it without a trailing slash.

    ``https://`` is always accepted; plain ``http://`` only for ``localhost`` and literal
    loopback addresses (``127.0.0.0/8``, ``[::1]``: the local emulator), because the API key
    travels in a header.

    Raises
    ------
    FynoConfigError
        For another scheme, a URL without a host, or plain http to a remote host.
    """
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise FynoConfigError("endpoint must be a non-empty URL such as https://api.fyno.io/v1")
    url = endpoint.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FynoConfigError(f"endpoint {url!r} is not an http(s) URL with a host")
    if parts.username or parts.password:
        raise FynoConfigError("endpoint must not carry credentials; pass api_key instead")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise FynoConfigError(
            f"endpoint {url!r} uses plain http to a remote host; the API key would travel "
            "unencrypted. Use https (plain http is allowed for loopback only)."
        )
    return url


@dataclass(frozen=True)
class FynoConfig:
    """Where and as whom to send. ``repr`` never shows the key.

    Build it with :meth:`resolve`, which reads the environment for what is not given.
    """

    wsid: str | None
    api_key: str | None = field(repr=False)
    version: str = "live"
    endpoint: str = DEFAULT_ENDPOINT

    @classmethod
    def resolve(
        cls,
        wsid: str | None = None,
        api_key: str | None = None,
        version: str | None = None,
        endpoint: str | None = None,
        *,
        require_credentials: bool = True,
    ) -> FynoConfig:
        """Merge arguments with ``FYNO_*`` environment variables and validate them.

        Parameters
        ----------
        wsid, api_key, version, endpoint : str, optional
            Explicit settings; each falls back to the innermost `fyno_pandas.connect` that
            names it, then to its environment variable, then to its default.
        require_credentials : bool, default True
            Raise when the workspace id or key is missing. ``plan`` passes False: it only
            labels the preview with them.

        Raises
        ------
        FynoConfigError
            When a setting is missing (and required) or malformed.
        """

        def pick(name: str, given: str | None, default: str | None) -> Any:
            if given is not None:
                return given
            named = connected(name)
            if named is not None:
                return named
            return os.environ.get(f"FYNO_{name.upper()}") or default

        wsid = pick("wsid", wsid, None)
        api_key = pick("api_key", api_key, None)
        version = pick("version", version, "live")
        endpoint = pick("endpoint", endpoint, DEFAULT_ENDPOINT)
        if version not in VERSIONS:
            raise FynoConfigError(f"version must be 'live' or 'test', not {version!r}")
        if wsid is not None and (not isinstance(wsid, str) or not wsid.strip() or "/" in wsid):
            raise FynoConfigError(f"wsid must be a workspace id such as 'FYXXXXXXXX', not {wsid!r}")
        if api_key is not None and (not isinstance(api_key, str) or not api_key.strip()):
            raise FynoConfigError("api_key must be a non-empty string")
        if api_key is not None and ("\r" in api_key or "\n" in api_key):
            # sent as a header line, where a line break would start another header
            raise FynoConfigError("api_key holds a line break; it must be the key alone")
        config = cls(wsid=wsid, api_key=api_key, version=version, endpoint=check_endpoint(endpoint))
        if require_credentials:
            config.require()
        return config

    def require(self) -> FynoConfig:
        """Return self, or raise `FynoConfigError` naming what is missing."""
        missing = [
            f"{name} (argument {name}= or ${var})"
            for name, value, var in (
                ("wsid", self.wsid, "FYNO_WSID"),
                ("api_key", self.api_key, "FYNO_API_KEY"),
            )
            if value is None
        ]
        if missing:
            raise FynoConfigError(f"missing {' and '.join(missing)}; nothing was sent")
        return self

    def url(self, operation: str) -> str:
        """The URL of a property operation such as ``set``, ``unset`` or ``batch``."""
        return f"{self.endpoint}/{self.wsid}/{self.version}/profiles/properties/{operation}"

    @property
    def label(self) -> str:
        """``endpoint · workspace · version`` for previews and messages (no key)."""
        return f"{self.endpoint} · workspace {self.wsid or '(not set)'} · {self.version}"

    def __repr__(self) -> str:
        key = "<hidden>" if self.api_key else None
        return (
            f"FynoConfig(wsid={self.wsid!r}, api_key={key!r}, version={self.version!r}, "
            f"endpoint={self.endpoint!r})"
        )
