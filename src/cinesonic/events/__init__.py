"""Publish/subscribe between the parts of one process, or between replicas through Redis."""
