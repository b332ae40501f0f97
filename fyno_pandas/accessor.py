"""``df.fyno``: the DataFrame accessor; it keeps the frame and delegates to `workflow`."""

from __future__ import annotations

from typing import Any

import pandas as pd


@pd.api.extensions.register_dataframe_accessor("fyno")
class FynoAccessor:
    """Plan and push a DataFrame's rows as Fyno user-property updates.

    pandas rebuilds the accessor on every ``df.fyno`` access, so it holds nothing but the frame.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def plan(self, id_col: str, **options: Any) -> Any:
        """Build a `PushPlan` without sending; see `fyno_pandas.plan`."""
        from .workflow import plan

        return plan(self._frame, id_col, **options)

    def push(self, id_col: str, **options: Any) -> pd.DataFrame:
        """Plan, preview and send every row; see `fyno_pandas.push`."""
        from .workflow import push

        return push(self._frame, id_col, **options)

    def retry_failed(self, result: pd.DataFrame, id_col: str, **options: Any) -> pd.DataFrame:
        """Resend the rows ``result`` reports failed or pending; see `fyno_pandas.retry_failed`."""
        from .workflow import retry_failed

        return retry_failed(self._frame, result, id_col, **options)
