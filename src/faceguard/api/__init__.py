"""The one library object, ``Faceguard`` (``faceguard.api.faceguard``), and its operation groups.

Owns: the order of every operation (policy gate, pixels, storage, record) and batch enrollment.
May import: every domain package (consent, vault, index, audit, rights, policy, engine,
liveness, redact, assess), the store and db. Imported only by the shells (cli, service) and the
package's public ``faceguard/__init__.py``.
"""
