"""What the browser gets: the offline GraphQL playground and the live page."""
