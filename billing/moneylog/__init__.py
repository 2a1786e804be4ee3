"""The money log: an append-only, hash-chained record of every act that changes money.

Every act that moves money — charges written, settled, voided, invoiced, disputed or credited; an
invoice finalized or voided; a credit note; prepaid credits granted or deducted; spend controls
changed; a contract version created; a dispute resolved or credited — appends one entry in the
transaction that does it (:mod:`billing.moneylog.services`). Each entry holds the previous
entry's hash, the actor, the time, the kind, the account and the canonical JSON of what changed,
and its own hash over them (:mod:`billing.moneylog.canonical`). Database triggers refuse to
change or remove the log and the append-only money rows; :mod:`billing.moneylog.verify`
(``manage.py verify_ledger``, ``GET /api/v1/ledger/verify``) recomputes the chain and checks the
money rows against it. See docs/security.md, "Tamper-evident money".
"""
