"""Notices, consents, guardians and withdrawals (R2-R5), and sharing bases (R20).

Owns: ``consent.records`` (one consent row per subject and purpose, the checks before any
face is processed) and ``consent.sharing``.
May import: vault (identities are sealed with the subject's key), audit, db and the kernel
(errors, results, timeutil). Never the engine, the api or the shells.
"""
