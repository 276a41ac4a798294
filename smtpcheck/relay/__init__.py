"""The relay layer (SPEC §4, SMTP-01…05): a live, authenticated test message over TLS."""
