"""`python -m scenarios.cli`: see `scenarios.cli.main`."""

import sys

from scenarios.cli.main import main

sys.exit(main())
