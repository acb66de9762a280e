"""`python -m corpus fetch | info | check`: the general-English corpus (see corpus/__init__.py)."""

import sys

from corpus import main

sys.exit(main())
