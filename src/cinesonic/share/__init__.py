"""Shares: public links to songs with an expiry, a streaming-minute budget and an access log."""
