"""smtpcheck's controls, as pytest modules (installed as ``smtpcheck.checks``)."""
