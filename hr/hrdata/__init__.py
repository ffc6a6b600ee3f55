"""HR data: employees, leave types, balances, requests and public holidays.

``models`` holds the tables, ``parsing`` and ``importer`` read CSV exports into them, and ``store``
holds every lookup the answering engine may make, each bound to an employee id.
"""
