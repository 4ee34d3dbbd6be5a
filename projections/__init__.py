"""The read side: Redis read models, the projectors that build them, the readers that serve them."""
