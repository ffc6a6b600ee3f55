"""A fake Bot Framework token issuer on loopback: OpenID metadata and a JWKS holding an RSA key the
test generates, and :meth:`FakeIssuer.token` to sign what the Bot Connector would send.

    GET /v1/.well-known/openidconfiguration   {"issuer": ..., "jwks_uri": ...}
    GET /v1/.well-known/keys                  {"keys": [{"kty": "RSA", "kid": ..., "endorsements": ["msteams"], ...}]}
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from jwt.algorithms import RSAAlgorithm

from tests.fakes.serving import serving

ISSUER = "https://api.botframework.com"
METADATA_PATH = "/v1/.well-known/openidconfiguration"
KEYS_PATH = "/v1/.well-known/keys"


def new_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class FakeIssuer:
    key: RSAPrivateKey = field(default_factory=new_key)
    kid: str = "test-key-1"
    issuer: str = ISSUER
    endorsements: list[str] = field(default_factory=lambda: ["msteams"])
    fetches: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}"

    @property
    def metadata_url(self) -> str:
        return self.base_url + METADATA_PATH

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk |= {"kid": self.kid, "use": "sig", "alg": "RS256", "endorsements": self.endorsements}
        return {"keys": [jwk]}

    def token(
        self,
        *,
        audience: str,
        service_url: str | None,
        issuer: str | None = None,
        expires_in: int = 3600,
        key: RSAPrivateKey | None = None,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        """A token as the Bot Connector signs it: ``key``/``kid``/``issuer``/``expires_in`` (negative:
        already expired) override the defaults for negative tests."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": issuer or self.issuer,
            "aud": audience,
            "nbf": now - 5,
            "iat": now - 5,
            "exp": now + expires_in,
            **claims,
        }
        if service_url is not None:
            payload["serviceurl"] = service_url
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})


def _handler(fake: FakeIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            fake.fetches.append(self.path)
            if self.path == METADATA_PATH:
                body: dict[str, Any] = {
                    "issuer": fake.issuer,
                    "authorization_endpoint": "https://invalid.botframework.com",
                    "jwks_uri": fake.base_url + KEYS_PATH,
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                }
            elif self.path == KEYS_PATH:
                body = fake.jwks()
            else:
                self.send_response(404)
                self.end_headers()
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def fake_issuer(**kwargs: Any) -> Iterator[FakeIssuer]:
    fake = FakeIssuer(**kwargs)
    with serving(_handler(fake)) as server:
        fake.server = server
        yield fake
