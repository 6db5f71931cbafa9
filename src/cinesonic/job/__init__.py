"""Background jobs as users and admins see them: progress, cancel, dead-letter queue, requeue,
purge. The engine itself is `cinesonic.worker`."""
