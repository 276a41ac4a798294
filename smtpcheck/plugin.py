"""The pytest plugin (placeholder until the audit session lands in this same change series)."""
