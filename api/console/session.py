"""Console sign-in: a signed session cookie and CSRF tokens. The key is checked once, by the same
``qa.store.users.authenticate`` and the same bad-key throttle as the API; it is never stored, put in a URL or logged.

The cookie (HttpOnly, SameSite=Strict, Secure over HTTPS, Max-Age) holds ``user id . expiry . key fingerprint .
nonce`` and an HMAC-SHA256 of them. Every request looks the user up again: a disabled user, an expired key or a
rotated key (the fingerprint is the first 16 hex of the key's stored hash) ends the session at once. The CSRF token
of a session is an HMAC of its nonce; the sign-in form (before any session) uses a double-submit cookie.

Signing out revokes the nonce in this process (and deletes the cookie). With several HTTP processes a copied cookie
would stay valid in the other processes until it expires: keep ``session_hours`` short there.

The signing secret: ``Settings.session_secret``, else ``CALLQA_SESSION_SECRET``, else a random one kept in
``data_dir/console-secret`` (mode 0600, made on first use) so that sessions survive a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from fastapi.responses import Response

from api.permissions import Principal
from qa.store.db import Store
from qa.store.models import User, utcnow

COOKIE = "qa_session"
LOGIN_COOKIE = "qa_login_csrf"


@dataclass(frozen=True, slots=True)
class Session:
    user: Principal
    nonce: str
    expires: int
    csrf: str


class Sessions:
    def __init__(self, secret: Callable[[], bytes], hours: float) -> None:
        self._secret_of, self._secret, self.max_age = secret, b"", int(hours * 3600)
        self._revoked: dict[str, int] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ signing
    @property
    def secret(self) -> bytes:
        """Loaded on first use: an app that never serves the console writes no secret file."""
        if not self._secret:
            with self._lock:
                self._secret = self._secret or self._secret_of()
        return self._secret

    def _sign(self, text: str) -> str:
        return hmac.new(self.secret, text.encode(), hashlib.sha256).hexdigest()

    def csrf_of(self, nonce: str) -> str:
        return self._sign("csrf:" + nonce)[:40]

    def issue(self, user: User) -> tuple[str, str]:
        """(cookie value, nonce) for a user who has just shown a good key."""
        nonce = secrets.token_urlsafe(18)
        body = f"{user.id}.{int(time.time()) + self.max_age}.{user.key_hash[:16]}.{nonce}"
        return f"{body}.{self._sign(body)}", nonce

    def read(self, store: Store, value: str | None) -> Session | None:
        """The session of a cookie value, or None (bad signature, expired, revoked, user disabled, key changed)."""
        if not value or value.count(".") != 4:
            return None
        body, sig = value.rsplit(".", 1)
        if not hmac.compare_digest(sig, self._sign(body)):
            return None
        uid, exp, fingerprint, nonce = body.split(".")
        if not uid.isdigit() or not exp.isdigit() or int(exp) <= time.time() or self.revoked(nonce):
            return None
        with store.session() as s:
            u = s.get(User, int(uid))
            if u is None or not u.active or u.key_hash[:16] != fingerprint:
                return None
            if u.expires_at is not None and u.expires_at <= utcnow():
                return None
            who = Principal(u.id, u.name, u.role, u.agent_id, u.team)
        return Session(who, nonce, int(exp), self.csrf_of(nonce))

    # ------------------------------------------------------------------ revocation (sign-out)
    def revoke(self, nonce: str, expires: int) -> None:
        now = time.time()
        with self._lock:
            for n in [n for n, e in self._revoked.items() if e <= now]:
                del self._revoked[n]
            self._revoked[nonce] = expires

    def revoked(self, nonce: str) -> bool:
        with self._lock:
            return nonce in self._revoked

    # ------------------------------------------------------------------ cookies
    def set_cookie(self, response: Response, request: Request, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )


def load_secret(configured: str | None, data_dir: Path) -> bytes:
    if configured:
        return configured.encode()
    env = os.environ.get("CALLQA_SESSION_SECRET")
    if env:
        return env.encode()
    path = Path(data_dir) / "console-secret"
    if not path.exists():  # written aside and linked into place: several server processes may race here
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        aside = path.with_name(f".console-secret.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(aside, path)
        except FileExistsError:
            pass  # another process was first: use its secret
        finally:
            aside.unlink()
    return path.read_text().strip().encode()


def check_csrf(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
