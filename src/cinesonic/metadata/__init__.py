"""Metadata providers (TMDb): look-ups, their database cache, matching and provider artwork."""
