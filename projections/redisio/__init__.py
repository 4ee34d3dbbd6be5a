"""Redis below redis-py's client, for readers and projectors alike: batches sent in one
write and answered in bulk, and cleanups that a cancellation cannot cut short."""
