"""``python -m fyno_pandas``: see `fyno_pandas.cli.command`."""

import sys

from .cli.command import main

if __name__ == "__main__":
    sys.exit(main())
