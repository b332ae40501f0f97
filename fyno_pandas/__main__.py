"""``python -m fyno_pandas``: see `fyno_pandas.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
