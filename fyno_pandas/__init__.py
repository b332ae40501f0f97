"""fyno_pandas: push pandas DataFrames to Fyno user properties, every cell accounted for.

``import fyno_pandas`` registers the ``df.fyno`` accessor::

    import fyno_pandas
    result = users.fyno.push(id_col="user_id")
"""

from . import accessor as _accessor  # noqa: F401  (registers df.fyno)
from .client.config import FynoConfig
from .client.connection import connect, disconnect
from .client.http import FynoClient
from .display.outcome import problems
from .errors import (
    FynoAPIError,
    FynoAuthError,
    FynoConfigError,
    FynoConnectionError,
    FynoInputError,
    FynoLedgerError,
    FynoOptionError,
    FynoPandasError,
    FynoSourceError,
    PushInterrupted,
)
from .ledger import Ledger
from .options.retry import RetryPolicy
from .pipeline.chunks import push_frames
from .pipeline.mirror import MirrorWarning
from .pipeline.query import push_query
from .pipeline.retry import retry_failed
from .pipeline.workflow import plan, push, push_plan
from .planning.plan import PushPlan

__version__ = "0.1.0"

__all__ = [
    "FynoAPIError",
    "FynoAuthError",
    "FynoClient",
    "FynoConfig",
    "FynoConfigError",
    "FynoConnectionError",
    "FynoInputError",
    "FynoLedgerError",
    "FynoOptionError",
    "FynoPandasError",
    "FynoSourceError",
    "Ledger",
    "MirrorWarning",
    "PushInterrupted",
    "PushPlan",
    "RetryPolicy",
    "__version__",
    "connect",
    "disconnect",
    "plan",
    "problems",
    "push",
    "push_frames",
    "push_plan",
    "push_query",
    "retry_failed",
]


def __dir__() -> list[str]:
    """The public names only: tab completion offers what users call, not internal modules."""
    return sorted(__all__)
