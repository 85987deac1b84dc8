"""The issuance and decisions log: append-only and hash-chained, so a changed or removed
entry shows. Every issue, re-issue, revocation, confirmation and decline is one entry."""
