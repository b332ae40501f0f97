"""`fyno_pandas.coercion.ids.id_strings`: text ids as Fyno receives them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fyno_pandas.coercion.ids import id_strings


def test_text_ids_pass_as_they_are_and_blank_ones_are_missing() -> None:
    ids = pd.Series(["u1", " u2 ", "", "  \t", None, np.str_("u3"), 7, 7.0, b"u4"], dtype=object)
    out, not_utf8 = id_strings(ids)
    assert out.tolist() == ["u1", " u2 ", None, None, None, "u3", "7", "7", "u4"]
    assert [type(t) for t in out if t is not None] == [str] * 6
    assert not not_utf8.any()


def test_a_text_id_holding_a_lone_surrogate_is_not_utf8() -> None:
    out, not_utf8 = id_strings(pd.Series(["ok", "bad\udcff"], dtype=object))
    assert out.tolist() == ["ok", None]
    assert not_utf8.tolist() == [False, True]
