"""``python -m fyno_pandas quickstart``: plan and push a small users table to an embedded emulator.

No account and no key: the emulator is the project's local stand-in for Fyno's API.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["run", "sample_users"]


def sample_users() -> pd.DataFrame:
    """A small users table with the kinds of problems real tables have."""
    return pd.DataFrame(
        {
            "user_id": [101, 102, 103, 104, 105],
            "plan": ["premium", "free", "free", "x" * 300, "premium"],
            "ltv": [23000.0, 20.34, float("nan"), 5.5, float("inf")],
            "is_active": [True, False, True, True, False],
            "signed_up": pd.to_datetime(
                ["2024-01-05 10:00", "2024-02-11 09:30", None, "2024-03-01", "2024-03-09"],
                format="ISO8601",
            ),
            "products": [["iPhone 16 Pro"], [], ["iPad 32 GB", "AirPods"], None, ["Watch"]],
        }
    )


def run() -> None:
    """Start the emulator, show the plan, push, and print what happened to every row."""
    from ..display.render import render_text
    from ..emulator import FynoEmulator
    from ..pipeline.workflow import plan, push_plan

    users = sample_users()
    shown = users.to_string(max_colwidth=24)
    print("Input, a users table with typical problems:", shown, sep="\n", end="\n\n")
    with FynoEmulator(seed=0) as fyno:
        the_plan = plan(
            users,
            "user_id",
            wsid=fyno.wsid,
            api_key=fyno.api_key,
            endpoint=fyno.endpoint,
            ledger=False,
        )
        print(render_text(the_plan), end="\n\n")
        result = push_plan(the_plan, progress=False)
        print("Result, one row per input row:", result.to_string(), sep="\n", end="\n\n")
        print("What the emulator stored:")
        for distinct_id, properties in sorted(fyno.profiles.items()):
            print(f"  {distinct_id}: {properties}")
        print(f"Property types it fixed: {fyno.property_types}")
    print(
        "\nNext: the tutorials in notebooks/, or your own workspace:\n"
        "  export FYNO_WSID=... FYNO_API_KEY=...\n"
        '  python -c "import fyno_pandas, pandas as pd; '
        "print(pd.read_csv('users.csv').fyno.push(id_col='user_id'))\""
    )
