"""In-memory 1:N search, one partition per purpose, and its change feed.

Owns: ``index.partition`` (the search) and ``index.feed`` (catching up with changes other
processes made). The index is a cache: every match is confirmed against the store.
May import: vault (to read templates back), db, ``engine.types`` and the kernel.
"""
