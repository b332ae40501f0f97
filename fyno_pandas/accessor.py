"""``df.fyno``: the DataFrame accessor; it keeps the frame and delegates to `pipeline`."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import pandas as pd

from .pipeline import retry, workflow


def _method(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func(df, ...)`` as a method of the accessor, with ``func``'s signature and doc.

    As pandas_flavor and pyjanitor register methods: ``df.fyno.push`` shows the same
    parameters in Shift-Tab and ``help()`` as `fyno_pandas.push`, less ``df``.
    """

    @functools.wraps(func)
    def method(self: FynoAccessor, /, *args: Any, **kwargs: Any) -> Any:
        return func(self._frame, *args, **kwargs)

    own = inspect.signature(func)
    this = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
    method.__signature__ = own.replace(  # type: ignore[attr-defined]
        parameters=[this, *list(own.parameters.values())[1:]]
    )
    return method


@pd.api.extensions.register_dataframe_accessor("fyno")
class FynoAccessor:
    """Plan and push a DataFrame's rows as Fyno user-property updates.

    pandas rebuilds the accessor on every ``df.fyno`` access, so it holds nothing but the frame.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    plan = _method(workflow.plan)
    push = _method(workflow.push)
    retry_failed = _method(retry.retry_failed)
