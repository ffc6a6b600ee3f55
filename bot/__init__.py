"""The answering engine and every chat surface (Slack, Teams, the CLI)."""
