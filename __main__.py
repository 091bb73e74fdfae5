"""``python -m tensorloupe``: the same as the ``tensorloupe`` command."""
import sys

from tensorloupe.command import main

if __name__ == "__main__":
    sys.exit(main())
