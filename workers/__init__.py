"""Celery workers that keep the index and HR data in sync (the sync issue builds them)."""
