"""What a chat adapter must remember across processes and restarts: events already handled (so a
platform retry is not answered twice), threads the bot answered in (so follow-ups are picked up),
and each user's question allowance. Kept in PostgreSQL, so any number of bot processes or
replicas share it."""
