"""The ``hrbot`` command line."""
