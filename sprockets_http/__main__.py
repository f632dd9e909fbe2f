"""``python -m sprockets_http``: the command line, :mod:`sprockets_http.cli`."""

import sys

from sprockets_http.cli import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
