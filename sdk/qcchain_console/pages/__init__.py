"""The console's pages; each module exposes ``routes()``."""
