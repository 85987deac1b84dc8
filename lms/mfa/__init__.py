"""A second factor at login: an authenticator app (TOTP), recovery codes, security keys."""
