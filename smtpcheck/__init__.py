"""smtpcheck: a pytest-driven compliance checker for the mail set-up of ADT-deployed servers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("smtpcheck")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
