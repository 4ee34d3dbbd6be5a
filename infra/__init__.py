"""Process plumbing the composition root uses: the embedded Redis server."""
