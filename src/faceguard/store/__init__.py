"""Everything persistent, opened once per process: ``store.core.Store`` composes the record
store, the key store, the vault, the processing record, the index, the erasure ledger
(``store.ledger``) and group commit (``store.group_commit``).

May import: vault, audit, index, db and the kernel. Imported by rights and the api.
"""
