"""The composition root: the one package that knows every concrete class.

`bootstrap.running()` opens the stores, starts the background work and yields the
typed `Inkwell` container; `asgi` builds the web apps around it. Nothing here
connects at import time.
"""
