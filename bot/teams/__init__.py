"""The Microsoft Teams bot (Microsoft 365 Agents SDK); the only package that imports it."""
