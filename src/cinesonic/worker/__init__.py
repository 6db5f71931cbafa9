"""The job engine: jobs are database rows, claimed with a lease by workers that heartbeat,
retry with back-off and end dead (the dead-letter queue) when out of attempts. Domain-free:
domains declare their jobs in their own `tasks.py` with `registry.job(...)`."""
