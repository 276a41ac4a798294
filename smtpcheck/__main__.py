"""``python -m smtpcheck`` is ``smtpcheck``."""

import sys

from smtpcheck.cli import run

sys.exit(run())
