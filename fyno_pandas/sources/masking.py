"""What a message about a database must not show: the password of its URL.

`source_error` makes of a driver's error a `FynoSourceError` naming the database by its
URL with the password masked (`masked`), every text of `secrets_of` replaced by ``***``. A
password may sit in the URL's user part or in its query (``?password=``, as libpq and psycopg
take it; SQL Server's ``odbc_connect`` holds one inside): both are masked.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, quote_plus

from ..errors import FynoSourceError

__all__ = ["engine_of", "masked", "secrets_of", "source_error"]


def masked(con: Any) -> str:
    """``con`` (a URL, Engine or Connection) as text with its password shown as ``***``."""
    import sqlalchemy as sa

    url = con if isinstance(con, str) else engine_of(con).url
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return "a database URL SQLAlchemy cannot parse"
    hidden = {key: "***" for key in parsed.query if _holds_a_password(key)}
    return parsed.update_query_dict(hidden).render_as_string(hide_password=True)


def _holds_a_password(key: str) -> bool:
    """Whether a URL's query parameter ``key`` carries a password."""
    key = key.lower()
    return "pass" in key or "pwd" in key or key == "odbc_connect"


def engine_of(con: Any) -> Any:
    """The Engine of ``con`` (an Engine, or a Connection's)."""
    return getattr(con, "engine", con)


def secrets_of(con: Any) -> list[str]:
    """The texts a message must not show: the password (as given and URL-quoted) and the URL."""
    import sqlalchemy as sa

    try:
        url = sa.make_url(con) if isinstance(con, str) else engine_of(con).url
    except sa.exc.ArgumentError:
        return [con]
    found = [con] if isinstance(con, str) else []
    passwords = [url.password] if url.password else []
    for key, values in url.query.items():
        if _holds_a_password(key):
            passwords += [values] if isinstance(values, str) else list(values)
    for password in map(str, passwords):
        found += [password, quote(password, safe=""), quote_plus(password)]
    return sorted(set(found), key=len, reverse=True)


def source_error(exc: BaseException, secrets: list[str], where: str) -> FynoSourceError:
    """``exc`` as a `FynoSourceError` naming ``where``, every secret masked."""
    said = str(getattr(exc, "orig", None) or exc)
    said = re.sub(r"\s*\(Background on this error at: \S+\)", "", said).strip()
    for secret in secrets:
        said = said.replace(secret, "***")
    return FynoSourceError(f"the query on {where} failed: {said}")
