"""TOTP second factor (RFC 6238, pyotp): enrolment, verification, the signed step between.

Enrolment shows a fresh secret as an `otpauth://` URI (and as text) and stores it only once a
code from the authenticator proves it was copied. Between the password and the code a login
carries a short-lived signed token naming the user (`login_step`), never a session. A code
is accepted once: the time step it matched is kept, and older or equal steps are refused.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import pyotp
from sqlalchemy.orm import Session

from app.auth.service import AccountError
from app.domain.audit import audit
from app.models import User
from app.settings import Settings

ISSUER = "Pairwise"
STEP_SECONDS = 30
LOGIN_STEP_SECONDS = 300  # time to type the code after the password
CODE_DIGITS = 6


def required(settings: Settings, user: User) -> bool:
    """Whether this account must sign in with a code (its roles are in TOTP_REQUIRED_ROLES)."""
    return user.has_any(settings.resolved_totp_roles())


def new_secret() -> str:
    return pyotp.random_base32()


def otpauth_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def _sign(settings: Settings, purpose: str, payload: str) -> str:
    key = settings.resolved_secret_key().encode()
    return hmac.new(key, f"{purpose}\n{payload}".encode(), hashlib.sha256).hexdigest()


def signed(settings: Settings, purpose: str, payload: str) -> str:
    """`payload.signature`, bound to `purpose` (a token for one use is no good for another)."""
    return f"{payload}.{_sign(settings, purpose, payload)}"


def unsigned(settings: Settings, purpose: str, token: str) -> str | None:
    """The payload of a token `signed` made for `purpose`, or None."""
    payload, _, signature = token.rpartition(".")
    if not payload or not hmac.compare_digest(signature, _sign(settings, purpose, payload)):
        return None
    return payload


def _matching_step(secret: str, code: str, now: float) -> int | None:
    code = code.strip().replace(" ", "")
    if len(code) != CODE_DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now // STEP_SECONDS)
    for step in (current - 1, current, current + 1):  # one step of clock drift either way
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def enrol(db: Session, settings: Settings, user: User, token: str, code: str) -> None:
    """Store the secret of an enrolment `token` once `code` proves the authenticator has it."""
    payload = unsigned(settings, "totp-enrol", token)
    user_id, _, secret = (payload or "").partition(":")
    if user_id != str(user.id) or not secret:
        raise AccountError("This enrolment form is not valid any more; open the page again.")
    step = _matching_step(secret, code, time.time())
    if step is None:
        raise AccountError("That code does not match; check the clock and try a new code.")
    user.totp_secret = secret
    user.totp_last_step = step
    audit(db, "totp.enrolled", user.id, f"user:{user.id}")


def enrolment_token(settings: Settings, user: User, secret: str) -> str:
    return signed(settings, "totp-enrol", f"{user.id}:{secret}")


def verify(user: User, code: str) -> bool:
    """True (and the step used up) when `code` is the user's current code, not seen before."""
    if not user.totp_secret:
        return False
    step = _matching_step(user.totp_secret, code, time.time())
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_last_step = step
    return True


def login_step(settings: Settings, user: User) -> str:
    """A token naming the user whose password was right, good for LOGIN_STEP_SECONDS."""
    until = int(time.time()) + LOGIN_STEP_SECONDS
    return signed(settings, "login-totp", f"{user.id}:{until}:{_password_mark(user)}")


def _password_mark(user: User) -> str:
    # A changed password (or reset) voids a half-finished login; the hash itself is not shown.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def login_step_user(db: Session, settings: Settings, token: str) -> User | None:
    """The active user a `login_step` token names, while it is fresh and the password unchanged."""
    payload = unsigned(settings, "login-totp", token) or ""
    parts = payload.split(":")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    if int(parts[1]) < time.time():
        return None
    user = db.get(User, int(parts[0]))
    if user is None or not user.active or not user.totp_secret:
        return None
    if not hmac.compare_digest(_password_mark(user), parts[2]):
        return None
    return user


def reset(db: Session, user: User, actor_id: int | None) -> None:
    """Forget the second factor (a lost phone); the user enrols again at the next sign-in."""
    user.totp_secret = None
    user.totp_last_step = None
    audit(db, "totp.reset", actor_id, f"user:{user.id}")
