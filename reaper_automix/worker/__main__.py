"""``python -m reaper_automix.worker JOB_DIR``: run one job (what the REAPER actions start)."""

import sys

from .main import main

sys.exit(main())
