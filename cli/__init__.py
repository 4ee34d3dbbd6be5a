"""The command-line tools beyond serving: each module is one command, registered by server.py."""
