"""Password hashing for users and e-signature re-authentication (argon2id)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from strokecell.errors import InputError, Problem

__all__ = ["hash_password", "needs_rehash", "verify_password"]

_HASHER = PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)
MIN_LENGTH = 10


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salted; never store the password itself)."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise InputError(Problem("password", f"must be at least {MIN_LENGTH} characters",
                                 None, f"{MIN_LENGTH} or more characters"))
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (False, never an error, on mismatch)."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than the current ones."""
    return _HASHER.check_needs_rehash(password_hash)
