"""Accounts' sign-in: passwords, tokens, sessions, cookies and CSRF, mail links, lockout."""
