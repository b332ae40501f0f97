"""Secrets out of what a server sent, before it becomes a message, a log line or a result.

A proxy or a debugging server may echo the request in its answer, ``Authorization`` header
included. A `Redactor` is the one place every text of an answer passes through.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = ["REDACTED", "Redactor"]

REDACTED = "[redacted]"
# An Authorization header's value as a header dump, JSON or a Python dict shows it: up to the end
# of the line, a quote or an escape.
_HEADER = r"""((?:proxy-)?authorization["']?\s*[:=]\s*["']?)[^\r\n"'\\<>]+"""
_NAME = re.compile("(?:proxy-)?authorization", re.IGNORECASE)
_URLSAFE = str.maketrans("+/", "-_")


class Redactor:
    """Replaces a secret, and the value of any Authorization header, in server texts.

    Parameters
    ----------
    secret : str
        The API key. It is replaced as sent, percent-encoded, and base64-encoded at any offset
        (as inside Basic credentials), in any letter case (percent-encoders differ in it).

    Notes
    -----
    Calling it on a str, or on parsed JSON (dicts, lists, strings, numbers), returns the same
    shape with every string (dict keys too) redacted, and the value of an ``Authorization``
    entry replaced whole. Its repr never shows the secret.
    """

    __slots__ = ("_needles", "_pattern")

    def __init__(self, secret: str) -> None:
        forms = {secret, quote(secret, safe=""), quote_plus(secret), *_base64_forms(secret)}
        alternatives = map(re.escape, sorted(forms, key=len, reverse=True))
        self._pattern = re.compile("|".join([_HEADER, *alternatives]), re.IGNORECASE)
        # Bytes every match contains, lowered the way bytes.lower lowers an answer: one search
        # for any of them (a loop of ``in`` over each cost twice as much per answer).
        needles = (b"authorization", *(form.encode().lower() for form in forms))
        self._needles = re.compile(b"|".join(map(re.escape, needles)))

    def __repr__(self) -> str:
        return "Redactor(<hidden>)"

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._pattern.sub(_keep_name, value)
        if isinstance(value, dict):
            # Parsed JSON holds a header's name and value in two strings: named here.
            return {
                self(k): REDACTED if isinstance(k, str) and _NAME.fullmatch(k) else self(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self(v) for v in value]
        return value

    def loads(self, raw: bytes) -> Any:
        """``raw`` parsed as JSON (UTF-8), redacted.

        Raises
        ------
        ValueError
            When ``raw`` is not UTF-8 JSON.
        """
        data = json.loads(raw.decode())
        # Without an escape every string of the answer is a piece of raw as sent, so a match
        # needs a needle in raw: most answers skip the walk (a 500-item batch answer: ~10 µs
        # instead of ~350 µs).
        if b"\\" in raw or self._needles.search(raw.lower()):
            return self(data)
        return data


def _keep_name(match: re.Match[str]) -> str:
    return (match.group(1) or "") + REDACTED


def _base64_forms(secret: str) -> set[str]:
    # Inside a longer base64 text the key's encoding depends on its offset modulo 3; at each
    # offset, keep the characters that encode key bytes only (the whole 3-byte groups of the key).
    data = secret.encode()
    forms = set()
    for offset, skip in ((0, 0), (1, 2), (2, 3)):
        whole = (offset + len(data)) // 3 * 4
        core = base64.b64encode(bytes(offset) + data)[skip:whole].decode()
        forms |= {core, core.translate(_URLSAFE)}
    # A short core would match unrelated text; the key itself is still matched as sent.
    return {form for form in forms if len(form) >= 8}
