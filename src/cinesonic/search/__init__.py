"""Search: one ranked, prefix-as-you-type, accent-blind search over artists, albums and songs
(movies and TV join it later), on FTS5 (SQLite) or full text + trigrams (PostgreSQL)."""
