"""Music: artists, albums, songs, genres, lyrics and plays; browsing, streaming and the
scanner's tag reading and indexing."""
