"""Distinct ids as text: how a row's id becomes the ``distinct_id`` Fyno receives. Pure.

Ints and integral floats are written without ``.0`` (``7.0`` -> ``"7"``), other values by
``str``; bytes (``pd.read_sas`` text) are decoded as UTF-8. A missing or blank id, a non-finite
float, bytes that do not decode and text that does not encode as UTF-8 (a lone surrogate, what
``encoding_errors="surrogateescape"`` makes of an undecodable byte) give None
(`fyno_pandas.planning.build` skips the row). `encodable_as_utf8` is the one check of such text, for
ids and property names alike: the ledger and Fyno take UTF-8 only.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from .coerce import missing_mask

__all__ = ["encodable_as_utf8", "id_strings"]

_NOT_UTF8 = object()  # what _id_text gives for bytes that do not decode


def encodable_as_utf8(texts: Sequence[str | None]) -> np.ndarray:
    """Per text, whether it encodes as UTF-8: False where it holds a lone surrogate (None
    passes: nothing of it is sent)."""
    try:  # one C-level pass over the whole batch: the common case, where every text encodes
        "".join(filter(None, texts)).encode("utf-8")
    except UnicodeEncodeError:
        return np.fromiter(map(_encodes, texts), dtype=bool, count=len(texts))
    return np.ones(len(texts), dtype=bool)


def _encodes(text: str | None) -> bool:
    try:
        (text or "").encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _id_text(value: Any) -> Any:
    if type(value) is str:  # most ids: before the chain of isinstance checks (~1 us a row)
        return value if value.strip() else None
    return _other_id_text(value)


def _other_id_text(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bytes, bytearray)):  # numpy.bytes_ too: pd.read_sas text is bytes
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return _NOT_UTF8
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return None
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, Decimal) and not value.is_finite():
        return None
    text = str(value)
    return text if text.strip() else None


def id_strings(ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The ids as str, and a mask of the ids that are not UTF-8: bytes that do not decode, text
    that does not encode.

    The object ndarray of str holds None where the id is missing, blank or not UTF-8.
    """
    if isinstance(ids.dtype, pd.CategoricalDtype):
        table, bad = id_strings(pd.Series(ids.cat.categories))
        codes = ids.cat.codes.to_numpy()  # -1 (missing) picks the appended None / False
        return np.append(table, None)[codes], np.append(bad, False)[codes]
    missing = missing_mask(ids)
    out = np.full(len(ids), None, dtype=object)
    not_utf8 = np.zeros(len(ids), dtype=bool)
    present = np.flatnonzero(~missing)
    if ids.dtype.kind in "iu" and not missing.any():
        out[:] = np.fromiter(map(str, ids.to_numpy().tolist()), dtype=object, count=len(ids))
    else:
        values = ids.to_numpy(dtype=object)[present]
        out[present] = np.fromiter(map(_id_text, values), dtype=object, count=len(present))
        not_utf8 = np.fromiter((t is _NOT_UTF8 for t in out), dtype=bool, count=len(out))
        out[not_utf8] = None
        not_utf8 |= ~encodable_as_utf8(out.tolist())
        out[not_utf8] = None
    return out, not_utf8
