"""Shared core of hrbot: typed settings, database access and the schema's models."""
