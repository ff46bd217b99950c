"""``python -m pipeline.cli``: the same as ``rnnx``."""

import sys

from pipeline.cli import main

sys.exit(main())
