"""The tamper-evident processing record (R11) and the signed proofs kept with it.

Owns: ``audit.log`` (the hash chain and signed checkpoints), ``audit.receipts`` (receipts
outside the record store), ``audit.certificates`` (signed deletion certificates, R18) and
``audit.integrity`` (verification of the chain against receipts, certificates and consents).
May import: db and the kernel (errors, results, timeutil, files). Nothing above.
"""
