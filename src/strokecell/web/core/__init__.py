"""Configuration, security (sessions, CSRF, sign-in throttling, API tokens), error mapping."""
