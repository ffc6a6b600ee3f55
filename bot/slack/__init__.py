"""The Slack surface: Bolt app, handlers, identity and Block Kit rendering. Only this package imports slack_bolt."""
