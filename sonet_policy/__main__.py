"""``python -m sonet_policy``: see :mod:`sonet_policy.cli`."""

import sys

from .cli import main

sys.exit(main())
