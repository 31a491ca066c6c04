"""`python -m backend` runs the server, like `doppel serve`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
