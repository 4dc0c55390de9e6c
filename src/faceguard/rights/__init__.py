"""Subjects' rights and deletion (R16-R18): erasure, withdrawal, retention sweeps, export,
human review, backup and restore that never resurrect (``rights.recovery`` re-applies the
erasure ledger).

May import: store, consent, vault, index, audit, engine (calibration, for explanations), db
and the kernel. Never the api or the shells.
"""
