"""Sign-in through OpenID Connect: the authorization code flow with PKCE (S256), through
Authlib. The state, nonce and code verifier travel in a short-lived cookie sealed with the
deployment's key; the ID token is checked (signature against the provider's published keys,
issuer, audience, nonce, expiry) before its subject is mapped to a registered person."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from clearance.errors import AuthenticationError
from clearance.settings import OidcSettings

FLOW_COOKIE = "clearance_oidc"
FLOW_AGE = 600
SCOPE = "openid email"


@dataclass
class Provider:
    """One OpenID provider: its configuration, read once per process."""

    settings: OidcSettings
    metadata: dict[str, Any] | None = None
    jwks: dict[str, Any] | None = None

    def _discover(self) -> dict[str, Any]:
        import httpx

        if self.metadata is None:
            url = f"{self.settings.issuer}/.well-known/openid-configuration"
            try:
                answer = httpx.get(url, timeout=10.0)
                answer.raise_for_status()
                found = answer.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise AuthenticationError(
                    f"the sign-in provider does not answer ({type(exc).__name__}); try again "
                    "later or sign in with a password"
                ) from None
            if str(found.get("issuer", "")).rstrip("/") != str(self.settings.issuer):
                raise AuthenticationError("the sign-in provider names another issuer")
            self.metadata = found
        return self.metadata

    def _keys(self, refresh: bool = False) -> dict[str, Any]:
        import httpx

        if self.jwks is None or refresh:
            answer = httpx.get(self._discover()["jwks_uri"], timeout=10.0)
            answer.raise_for_status()
            self.jwks = answer.json()
        return self.jwks

    def start(self, redirect_uri: str) -> tuple[str, str]:
        """(the provider's authorization URL, the flow to keep in the sealed cookie)."""
        from authlib.common.urls import add_params_to_uri
        from authlib.oauth2.rfc7636 import create_s256_code_challenge

        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)
        params = {
            "response_type": "code",
            "client_id": self.settings.client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPE,
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        url = add_params_to_uri(self._discover()["authorization_endpoint"], params)
        flow = json.dumps(
            {"state": state, "nonce": nonce, "verifier": verifier, "at": int(time.time())}
        )
        return url, flow

    def finish(self, flow_text: str, params: dict[str, str], redirect_uri: str) -> dict[str, Any]:
        """The ID token's claims, once the provider's answer matches the flow and the token
        verifies; AuthenticationError otherwise."""
        try:
            flow = json.loads(flow_text)
        except ValueError:
            raise AuthenticationError("the sign-in expired; start again") from None
        if int(flow.get("at", 0)) + FLOW_AGE < time.time():
            raise AuthenticationError("the sign-in took too long; start again")
        if params.get("error"):
            raise AuthenticationError(f"the provider refused the sign-in ({params['error']})")
        if not secrets.compare_digest(str(params.get("state", "")), str(flow.get("state"))):
            raise AuthenticationError("the sign-in answer does not belong to this browser")
        code = params.get("code")
        if not code:
            raise AuthenticationError("the provider sent no authorization code")
        tokens = self._exchange(code, str(flow["verifier"]), redirect_uri)
        claims = self._claims(str(tokens.get("id_token", "")), str(flow["nonce"]))
        if "email" not in claims and tokens.get("access_token"):
            claims.update(self._userinfo(str(tokens["access_token"]), str(claims.get("sub"))))
        return claims

    def _userinfo(self, access_token: str, subject: str) -> dict[str, Any]:
        """The e-mail claims from the UserInfo endpoint (providers that keep them out of the
        ID token); only when it speaks of the ID token's own subject."""
        import httpx

        endpoint = self._discover().get("userinfo_endpoint")
        if not endpoint:
            return {}
        try:
            answer = httpx.get(
                endpoint, headers={"Authorization": f"Bearer {access_token}"}, timeout=10.0
            )
            info = answer.json() if answer.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return {}
        if not isinstance(info, dict) or info.get("sub") != subject:
            return {}
        return {k: info[k] for k in ("email", "email_verified") if k in info}

    def _exchange(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        import httpx

        try:
            answer = httpx.post(
                self._discover()["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "code_verifier": verifier,
                },
                auth=(str(self.settings.client_id), str(self.settings.client_secret or "")),
                timeout=10.0,
            )
        except httpx.HTTPError as exc:
            raise AuthenticationError(
                f"the provider did not answer ({type(exc).__name__})"
            ) from None
        if answer.status_code != 200:
            raise AuthenticationError("the provider refused the authorization code")
        found: dict[str, Any] = answer.json()
        return found

    def _claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        from authlib.jose import JsonWebKey, jwt
        from authlib.jose.errors import JoseError
        from authlib.oidc.core import CodeIDToken

        if not id_token:
            raise AuthenticationError("the provider sent no ID token")
        options = {
            "iss": {"essential": True, "value": self._discover()["issuer"]},
            "aud": {"essential": True, "value": self.settings.client_id},
        }
        for refresh in (False, True):  # the provider may have rotated its keys
            try:
                claims = jwt.decode(
                    id_token,
                    JsonWebKey.import_key_set(self._keys(refresh)),
                    claims_cls=CodeIDToken,
                    claims_options=options,
                    claims_params={"nonce": nonce, "client_id": self.settings.client_id},
                )
                claims.validate(leeway=60)
                return dict(claims)
            except JoseError as exc:
                error = exc
        raise AuthenticationError(f"the ID token does not verify ({error.error})")


def provider_of(app: Any) -> Provider | None:
    settings: OidcSettings = app.state.ws.settings.oidc
    if not settings.enabled:
        return None
    found: Provider | None = getattr(app.state, "oidc_provider", None)
    if found is None:
        found = Provider(settings)
        app.state.oidc_provider = found
    return found
