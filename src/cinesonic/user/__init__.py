"""User accounts: profiles, preferences, and the admin's view of every account."""
