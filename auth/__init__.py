"""Who is asking: bearer tokens that prove a user id."""
