"""`python -m local` (`make dev`): the Docker-free local stack; see local/stack.py."""

import sys

from local.stack import main

if __name__ == "__main__":
    sys.exit(main())
