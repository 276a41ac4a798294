"""Closed choices of the command line and the config, declared once and light to import
(``smtpcheck --help`` must not load the reporters, pytest, paramiko or dnspython)."""

MAX_SHARDS = 1000  # --shard K/N: N at most this (smtpcheck merge checks it again)
OPTIONAL_REPORTS = ("sarif", "codequality")  # --extra-report: rendered in smtpcheck.reports
