"""``python -m sonet_policy``: see :mod:`sonet_policy.cli.main`."""

import sys

from sonet_policy.cli.main import main

sys.exit(main())
