"""`python -m scenarios.rollout` — see scenarios.rollout.cli."""

import sys

from scenarios.rollout.cli import main

sys.exit(main())
