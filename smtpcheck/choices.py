"""Closed choices of the command line and the config, declared once and light to import
(``smtpcheck --help`` must not load the reporters, pytest, paramiko or dnspython)."""

OPTIONAL_REPORTS = ("sarif", "codequality")  # --extra-report: rendered in smtpcheck.reports
