"""What the tests and the benchmarks both start: a free port, a private redis-server, the
server as a real process, and clean-up of a Redis key prefix. Neither tests/ nor bench/
imports the other; both import this. Not part of the installed application."""
