"""Privacy (UK GDPR): what each domain holds about a person, subject access export, erasure."""
