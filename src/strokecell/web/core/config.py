"""Settings of the web application, read from ``STROKECELL_WEB_*`` environment variables.

Unsafe defaults are refused outside development: a secret key of at least 32 bytes is
required, and session cookies must be ``Secure`` (the application is served over TLS,
directly or behind a TLS-terminating proxy: ``STROKECELL_WEB_HTTPS=1``). In development a
missing key is replaced by a random one per process (sessions end when the server stops).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

__all__ = ["ENV_PREFIX", "MIN_SECRET_BYTES", "Settings"]

ENV_PREFIX = "STROKECELL_WEB_"
MIN_SECRET_BYTES = 32


class Settings(BaseModel):
    """Everything the web application needs to know besides the database engine."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: Literal["development", "test", "production"] = "development"
    secret_key: SecretStr | None = None
    https: bool = False  # served over TLS (directly or behind a proxy): Secure cookies
    default_study: str | None = None  # study code prefilled on the sign-in page
    session_idle_minutes: int = Field(30, ge=1, le=24 * 60)
    session_max_hours: int = Field(12, ge=1, le=72)
    login_max_failures: int = Field(5, ge=1, le=100)  # then the account is locked ...
    login_lockout_minutes: int = Field(15, ge=1, le=24 * 60)  # ... for this long
    login_attempts_per_minute: int = Field(20, ge=1, le=10_000)  # per client address
    token_cache_seconds: int = Field(60, ge=0, le=3600)  # verified API tokens kept hot

    @model_validator(mode="after")
    def _safe_outside_development(self) -> Settings:
        if self.env == "development":
            return self
        key = self.secret_key.get_secret_value() if self.secret_key else ""
        if len(key.encode("utf-8")) < MIN_SECRET_BYTES:
            raise ValueError(f"secret_key: required outside development and at least "
                             f"{MIN_SECRET_BYTES} bytes (set {ENV_PREFIX}SECRET_KEY, e.g. to "
                             "the output of `python -c 'import secrets; "
                             "print(secrets.token_urlsafe(48))'`)")
        if self.env == "production" and not self.https:
            raise ValueError(f"https: production needs TLS so that session cookies are "
                             f"Secure (serve over https or behind a TLS proxy and set "
                             f"{ENV_PREFIX}HTTPS=1)")
        return self

    @property
    def cookie_secure(self) -> bool:
        return self.https

    def key_bytes(self) -> bytes:
        """The secret key (a random per-process key in development when none is set)."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode("utf-8")
        return _DEV_KEY

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object,
                 ) -> Settings:
        """Settings from ``STROKECELL_WEB_<FIELD>`` variables, then ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in cls.model_fields:
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is not None and raw != "":
                values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)


_DEV_KEY = secrets.token_bytes(MIN_SECRET_BYTES)
