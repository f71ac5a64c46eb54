"""`python -m scenarios.bench`: see `scenarios.bench.suite`."""

import sys

from scenarios.bench.suite import main

sys.exit(main())
