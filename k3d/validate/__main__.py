"""`python -m k3d.validate [--root DIR]`."""

import sys

from k3d.validate.cli import main

sys.exit(main())
