"""The Processing provider (algorithms over the same core as the dock)."""
