"""Whether the configured OpenID Connect provider takes this app's client credentials, asked before anyone
clicks "Sign in" (Streamlit's own sign-in only logs a failed token exchange and shows the signed-out page).

The check is the standard one (RFC 6749 §5.2): a token request with a made-up authorization code. A provider
answers `invalid_client` when the client id or secret is wrong and `invalid_grant` when they are right and only
the code is, which this request's code always is. Nothing is issued; nobody signs in.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT_S = 5


def _read_json(request_or_url, what: str) -> dict:
    try:
        with urllib.request.urlopen(request_or_url, timeout=TIMEOUT_S) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:  # an OAuth error is a JSON body with a 4xx status
        try:
            return json.loads(exc.read().decode("utf-8"))
        except (ValueError, OSError):
            raise OSError(f"{what} answered HTTP {exc.code}") from exc
    except ValueError as exc:
        raise OSError(f"{what} did not answer with JSON") from exc


def client_problem(metadata_url: str, client_id: str, client_secret: str, redirect_uri: str,
                   auth_method: str = "client_secret_basic") -> str | None:
    """What stops sign-in with this configuration, in words for the host, or None when the provider takes it."""
    if not all((metadata_url, client_id, client_secret, redirect_uri)):
        return ("the [auth] section of .streamlit/secrets.toml needs server_metadata_url, client_id, client_secret "
                "and redirect_uri")
    try:
        metadata = _read_json(metadata_url, "the provider's metadata URL")
        token_url = metadata["token_endpoint"]
    except (OSError, KeyError, TypeError) as exc:
        reason = exc if not isinstance(exc, KeyError) else "its metadata has no token_endpoint"
        return f"the identity provider at {metadata_url} cannot be reached or read ({reason})"
    form = {"grant_type": "authorization_code", "code": "facematch-configuration-check", "redirect_uri": redirect_uri}
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    if auth_method == "client_secret_post":
        form.update(client_id=client_id, client_secret=client_secret)
    else:
        pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    request = urllib.request.Request(token_url, data=urllib.parse.urlencode(form).encode(), headers=headers)
    try:
        answer = _read_json(request, "the provider's token endpoint")
    except OSError as exc:
        return f"the identity provider's token endpoint {token_url} cannot be reached ({exc})"
    if answer.get("error") in ("invalid_client", "unauthorized_client"):
        return (f"the identity provider refused this app's client id or secret ({answer['error']}: "
                f"{answer.get('error_description', 'no description')})")
    return None
