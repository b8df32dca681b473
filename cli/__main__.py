"""``python -m calliper.cli``: the same as the ``calliper`` script (torchrun starts processes this way)."""

import sys

from .main import main

sys.exit(main())
