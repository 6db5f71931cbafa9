"""The audit log: every authentication event and every admin or moderator write."""
