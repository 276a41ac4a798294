"""Host credential files: one module per application format, the CRED controls in evaluate."""
