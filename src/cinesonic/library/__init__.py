"""Libraries: root folders, per-user read access, scans and their history."""
