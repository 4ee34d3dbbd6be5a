"""The read side, one subpackage per job: keyspace (where read models live in Redis),
projectors (write them), readers (serve queries from them), live (pub/sub: subscriptions and
read-your-writes), tools (operators' proof). docs/architecture.md has the map and the rules."""
