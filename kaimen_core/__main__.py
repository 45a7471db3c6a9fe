"""``python -m kaimen_core``: the operator command line."""

import sys

from kaimen_core.cli import main

sys.exit(main())
