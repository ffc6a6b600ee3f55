"""The audit log: one hash-chained row per answer, refusal and personal lookup.

``hr.audit.models`` holds the tables, ``hr.audit.chain`` the hashing, ``hr.audit.service`` every
query (append, feedback, list, export, verify) and ``hr.audit.export`` the JSONL/CSV writers.
"""
