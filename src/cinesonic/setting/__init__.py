"""Settings: the server settings an administrator may change at runtime (typed, validated,
pinned by environment variables, applied live on every replica) and each user's own settings."""
