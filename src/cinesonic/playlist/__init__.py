"""Playlists: ordered songs owned by users, private or public, with stable item ids."""
