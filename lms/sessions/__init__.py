"""Server-side sessions: where a person is logged in, for how long, and ending it."""
