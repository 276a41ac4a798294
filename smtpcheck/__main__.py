"""``python -m smtpcheck`` is ``smtpcheck``."""

import sys

from smtpcheck.cli import main

sys.exit(main())
