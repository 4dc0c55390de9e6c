"""Encrypted templates and identities, the key hierarchy, crypto-shredding (R9, R14).

Owns: ``vault.keys`` (master key, per-subject data keys, wrapping) and ``vault.templates``
(sealing, opening and deleting templates and identities).
May import: db, the engine's plain types (``engine.types``) and the kernel. Nothing above.
"""
