"""Open Badges 3.0 credentials: the issuer's did:web keys and the signed credential forms."""
