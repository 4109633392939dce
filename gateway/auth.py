"""Who may use the HTTP API: one shared token, sent as a bearer header or kept in the page's login cookie.

The token comes from the environment or a file, never from the config. It is
required by default; ``api.allow_unauthenticated`` opens the reads (not the
deletes) for a trusted LAN and says so in the log at every start. Tokens and
cookies are compared in constant time.
"""
from __future__ import annotations

import hashlib
import hmac
import logging

from fastapi import HTTPException, Request

import contract
from gateway.config import ApiConfig
from yamlconfig import ConfigError

logger = logging.getLogger(__name__)

MIN_TOKEN_CHARS = 16
COOKIE = "smartcam_session"


class ApiAuth:
    """Checks requests against the configured token."""

    def __init__(self, cfg: ApiConfig) -> None:
        self.open_reads = cfg.allow_unauthenticated
        try:
            token = contract.read_secret(cfg.token_env, cfg.token_file, what="the API token")
            missing = "the API needs a token: set api.token_env or api.token_file"
        except contract.ContractError as exc:
            hint = f" (e.g. `export {cfg.token_env}=$(python -c 'import secrets; print(secrets.token_urlsafe(24))')`)" if cfg.token_env else ""
            token, missing = None, f"{exc}{hint}"
        if token is None and not self.open_reads:
            raise ConfigError(f"{missing}, or set api.allow_unauthenticated on a trusted LAN")
        if token is not None and len(token) < MIN_TOKEN_CHARS:
            raise ConfigError(f"the API token is {len(token)} characters long; use at least {MIN_TOKEN_CHARS}")
        self._token = token.encode() if token else None
        # The cookie holds a value derived from the token, not the token: a new token ends every session.
        self._session = hmac.new(self._token, b"smartcam-session", hashlib.sha256).hexdigest() if self._token else None
        if self.open_reads:
            logger.warning("API reads are open to anyone who reaches it (api.allow_unauthenticated)%s",
                           "" if self._token else "; deleting is off (no token)")

    @property
    def session(self) -> str | None:
        """The login cookie's value."""
        return self._session

    def check_token(self, token: str) -> bool:
        """Whether ``token`` is the API token (constant time)."""
        return self._token is not None and hmac.compare_digest(token.encode(), self._token)

    def authenticated(self, request: Request) -> bool:
        """A valid bearer header or login cookie."""
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.check_token(credentials.strip()):
            return True
        cookie = request.cookies.get(COOKIE)
        return self._session is not None and cookie is not None and hmac.compare_digest(cookie.encode(), self._session.encode())

    def read(self, request: Request) -> None:
        """Dependency of every read: the token, unless reads are open."""
        if not self.open_reads:
            self._require(request)

    def write(self, request: Request) -> None:
        """Dependency of every change: always the token."""
        if self._token is None:
            raise HTTPException(403, "the API is read-only: no token is configured")
        self._require(request)

    def _require(self, request: Request) -> None:
        if not self.authenticated(request):
            raise HTTPException(401, "missing or wrong API token", headers={"WWW-Authenticate": "Bearer"})
