"""smtpcheck: a pytest-driven compliance checker for the mail set-up of ADT-deployed servers."""

__version__ = "0.1.0"  # the one place: pyproject.toml reads it (importlib.metadata costs 0.1 s)
