"""``python -m aioclarifai``: the command line (see :mod:`aioclarifai.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
