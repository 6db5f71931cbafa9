"""Domain-free helpers: ids, time, pagination, schemas, tokens. Nothing here imports a domain."""
