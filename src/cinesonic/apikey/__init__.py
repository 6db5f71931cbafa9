"""API keys for scripts, peers and media players: scoped, expiring, shown once."""
