"""The read side: Redis read models, the projectors that build them, and the readers that serve them."""
