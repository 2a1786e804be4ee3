"""The charge ledger: one row per event that can cost money, owned by billing (see models)."""
