"""What follows Redis pub/sub: the process's one connection (broadcast), live read models for
subscriptions, read-your-writes waits, and the active spaces kept current."""
