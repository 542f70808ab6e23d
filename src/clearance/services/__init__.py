"""Use cases: one function per thing a user does. Each owns its transaction and records
its audit event in that same transaction, so every interface gets the same rules."""
