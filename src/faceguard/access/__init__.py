"""API keys of the service: storage, hashing, roles, and TOTP secrets sealed under a key
derived by the vault (R14, R25).

Owns: ``access.keys`` (``ApiKeys``: create, list, check, revoke keys in the record store, and
the access events of the processing record) and ``access.totp`` (RFC 6238 codes).
May import: the store, db, vault (the derived sealing key), audit and the kernel (errors,
timeutil). Never the api or the shells: the service reaches keys through ``Faceguard.api_keys``.
"""
