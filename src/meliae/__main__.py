"""``python -m meliae``: the ``meliae`` command line."""
import sys

from meliae.cli import main

if __name__ == "__main__":
    sys.exit(main())
