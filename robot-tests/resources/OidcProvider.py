"""Starts the real OpenID provider (oidc-provider, scripts/peers/oidc) and
plays the browser and the user that the OAuth flows need.

The provider runs ``node scripts/peers/oidc/provider.mjs --port 0`` on
127.0.0.1; its logins complete on their own (account ``robot``, or the
``login_hint``; ``login_hint=deny`` refuses with ``access_denied``). The
keywords here follow its redirects with a cookie jar and submit its device
flow forms, so no test needs a human or a real browser.
"""

import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
from robot.api import logger
from robot.libraries.BuiltIn import BuiltIn
from robot.utils import DotDict

from peer_process import PeerProcess, PeerSet, log_path

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "scripts" / "peers" / "oidc"
CLIENTS = json.loads((HARNESS / "clients.json").read_text())
TIMEOUT = 10
MAX_HOPS = 20


def _origin(url):
    parts = urlsplit(url)
    return (parts.scheme, parts.netloc)


class _Forms(HTMLParser):
    """Collects each <form>'s id, action and hidden inputs."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({
                "id": attrs.get("id"),
                "action": attrs.get("action") or "",
                "fields": {},
            })
        elif tag == "input" and self.forms and attrs.get("type") == "hidden":
            self.forms[-1]["fields"][attrs.get("name")] = attrs.get("value") or ""


def _forms(page):
    parser = _Forms()
    parser.feed(page)
    return parser.forms


class _Text(HTMLParser):
    """Collects the text a user would read, without styles and scripts."""

    def __init__(self):
        super().__init__()
        self.parts = []
        self._skip = False

    def handle_starttag(self, tag, attrs):
        self._skip = tag in ("style", "script")

    def handle_endtag(self, tag):
        self._skip = False

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def _page_message(html):
    """The text of a provider page, for failure messages."""
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)[:500] or html[:500]


class OidcProvider:
    """Keywords to run oidc-provider and to act as its browser and user."""

    ROBOT_LIBRARY_SCOPE = "GLOBAL"

    def __init__(self):
        self._providers = PeerSet("OIDC provider")
        self._env = {}

    def start_oidc_provider(self, alias="default", device_code_ttl=None, device_interval=None,
                            access_token_ttl=None, id_token_ttl=None, api_token_format=None,
                            strict_client_auth=False, rotate_refresh_token=False,
                            jwt_client_keys=None, mail_usernames=False):
        """Starts oidc-provider on a free loopback port and returns a dictionary:

        - ``issuer``: ``http://127.0.0.1:PORT`` (discovery under
          ``/.well-known/openid-configuration``), ``port``;
        - ``basic_id``/``basic_secret`` (client_secret_basic, PKCE optional),
          ``post_id``/``post_secret`` (client_secret_post, PKCE optional),
          ``pkce_id``/``pkce_secret`` (client_secret_basic, PKCE S256 required);
        - ``api_resource`` (resource indicator of the API whose scopes are
          ``api:read`` and ``api:write``; its access tokens are JWTs),
          ``deny_login_hint`` (the ``login_hint`` that makes the login refuse).

        The optional lifetimes are in seconds: ``device_code_ttl`` (default
        600), ``device_interval`` (announced device polling interval, polls
        sooner get ``slow_down``; default 1), ``access_token_ttl`` and
        ``id_token_ttl`` (default 3600). ``api_token_format`` is ``opaque``
        (default) or ``jwt`` for the API's access tokens (oidc-provider
        neither introspects nor revokes JWT ones). With
        ``strict_client_auth`` a client must authenticate with its
        registered method (``rpa-post`` in the body, the others with HTTP
        Basic) or gets ``invalid_client``; otherwise, as oidc-provider
        itself, any client may use either. With ``rotate_refresh_token``
        every refresh hands out a new refresh token and retires the old one.
        ``jwt_client_keys`` (a list of public key PEM files, each ``KID.pem``)
        registers the client ``rpa-jwt`` (client_credentials,
        ``private_key_jwt``) with those keys. With ``mail_usernames`` every
        access token carries a ``username`` claim (the account, or the
        client id of a client_credentials token) that introspection returns,
        which Dovecot's oauth2 passdb maps to a mailbox user. Its log goes to
        ``${OUTPUT DIR}/oidc-provider-<suite>-<alias>.log``.

        The dictionary's keys can be read as ``${OIDC.issuer}`` too.

        Example:
        | ${OIDC}= | Start OIDC Provider | device_code_ttl=3 |
        | Log | ${OIDC.issuer} |
        """
        env = {}
        for name, value in [("OIDC_DEVICE_CODE_TTL", device_code_ttl),
                            ("OIDC_DEVICE_INTERVAL", device_interval),
                            ("OIDC_ACCESS_TOKEN_TTL", access_token_ttl),
                            ("OIDC_ID_TOKEN_TTL", id_token_ttl),
                            ("OIDC_API_TOKEN_FORMAT", api_token_format)]:
            if value is not None:
                env[name] = str(value)
        if BuiltIn().convert_to_boolean(strict_client_auth):
            env["OIDC_STRICT_CLIENT_AUTH"] = "1"
        if BuiltIn().convert_to_boolean(rotate_refresh_token):
            env["OIDC_ROTATE_REFRESH_TOKEN"] = "1"
        if BuiltIn().convert_to_boolean(mail_usernames):
            env["OIDC_MAIL_USERNAMES"] = "1"
        if jwt_client_keys:
            env["OIDC_JWT_CLIENT_KEYS"] = ",".join(str(k) for k in jwt_client_keys)
        self._env[alias] = env
        provider = self._providers.add(alias, lambda: PeerProcess(
            "oidc-provider", ["node", str(HARNESS / "provider.mjs")],
            log_path("oidc-provider", alias), env=env, cwd=HARNESS))
        logger.info(f"oidc-provider '{alias}' at {provider.url}")
        info = DotDict(issuer=provider.url, port=provider.port)
        for name, client in CLIENTS["clients"].items():
            info[f"{name}_id"] = client["client_id"]
            info[f"{name}_secret"] = client["client_secret"]
        info["api_resource"] = CLIENTS["api_resource"]
        info["deny_login_hint"] = CLIENTS["deny_login_hint"]
        return info

    def restart_oidc_provider_with_a_new_key(self, alias="default"):
        """Stops the provider and starts it again on the same port, so the
        issuer stays the same: it makes a fresh signing key each run, so
        this rotates its key and removes the old one from its key set.
        Returns the new key's ``kid``. Its log goes to
        ``${OUTPUT DIR}/oidc-provider-<suite>-<alias>-rotated.log``."""
        old = self._providers.get(alias)
        port = old.port
        self._providers.stop(alias)
        env = self._env[alias]
        self._providers.add(alias, lambda: PeerProcess(
            "oidc-provider", ["node", str(HARNESS / "provider.mjs")],
            log_path("oidc-provider", f"{alias}-rotated"), env=env, cwd=HARNESS, port=port))
        return self.get_oidc_jwks(alias)["keys"][0]["kid"]

    def oidc_provider_request_count(self, path, alias="default"):
        """How many ``GET path`` requests the running provider answered
        (from its access log)."""
        lines = self._providers.get(alias).log_path.read_text().splitlines()
        return sum(1 for line in lines if f" GET {path} " in line)

    def token_requests_of_client(self, client_id, alias="default"):
        """How many token requests (``POST /token``) client ``client_id``
        made to the running provider, as the provider itself counted them
        (``GET /test/token-requests``, scripts/peers/oidc/additions.mjs)."""
        return int(self._get_json("/test/token-requests", alias).get(client_id, 0))

    def stop_oidc_provider(self, alias="default"):
        """Stops the provider with SIGTERM and checks that it exited cleanly."""
        self._providers.stop(alias)

    def stop_all_oidc_providers(self):
        self._providers.stop_all()

    def _issuer(self, alias):
        return self._providers.get(alias).url

    def follow_login_redirects(self, authorization_url, deliver=False, alias="default"):
        """Acts as a browser with an empty cookie jar: opens
        ``authorization_url`` and follows the provider's redirects (its
        login and consent complete on their own) until one leads away from
        the provider, to the client's redirect URI, and returns that URL
        (``?code=...&state=...&iss=...`` or ``?error=...``).

        The client's redirect URI is not opened unless ``deliver`` is true
        (use that when it is rpa-mfa's ``/oauth/callback``). Fails with the
        provider's answer when it shows an error page instead of redirecting
        (e.g. an unknown client or a redirect URI it does not allow).

        Example:
        | ${url}= | Generate OAuth URL | ${OIDC.issuer}/auth | client_id=rpa-basic | redirect_uri=http://127.0.0.1:1/callback | scope=openid |
        | ${response}= | Follow Login Redirects | ${url} |
        """
        issuer = _origin(self._issuer(alias))
        url = authorization_url
        with requests.Session() as browser:
            for _ in range(MAX_HOPS):
                response = browser.get(url, allow_redirects=False, timeout=TIMEOUT)
                if not response.is_redirect:
                    raise AssertionError(
                        f"the provider answered {response.status_code} without redirecting: "
                        f"{response.text[:500]}"
                    )
                url = urljoin(url, response.headers["Location"])
                if _origin(url) != issuer:
                    break
            else:
                raise AssertionError(f"more than {MAX_HOPS} redirects")
            if BuiltIn().convert_to_boolean(deliver):
                delivered = browser.get(url, allow_redirects=False, timeout=TIMEOUT)
                logger.info(f"the redirect target answered {delivered.status_code}")
        return url

    def approve_device_login(self, verification_uri, user_code=None):
        """Acts as the user on another device who opens ``verification_uri``
        (``verification_uri_complete``, or ``verification_uri`` plus
        ``user_code``), confirms the code on the provider's page and logs in
        (as ``robot``, automatically). Fails if the provider does not end on
        its "Sign-in Success" page, with the message it showed instead.

        Example:
        | Approve Device Login | ${device}[verification_uri_complete] |
        """
        with requests.Session() as browser:
            page = self._confirm_page(browser, verification_uri, user_code)
            form = self._form(page, "op.deviceConfirmForm")
            response = browser.post(urljoin(page.url, form["action"]), data=form["fields"],
                                    timeout=TIMEOUT)
        if "Sign-in Success" not in response.text:
            raise AssertionError(f"device login not approved: {_page_message(response.text)}")

    def deny_device_login(self, verification_uri, user_code=None):
        """Like `Approve Device Login`, but the user presses "Abort" on the
        confirmation page; the device then gets ``access_denied``. Fails
        unless the provider confirms the interruption."""
        with requests.Session() as browser:
            page = self._confirm_page(browser, verification_uri, user_code)
            form = self._form(page, "op.deviceConfirmForm")
            fields = {k: v for k, v in form["fields"].items() if k != "confirm"}
            fields["abort"] = "yes"
            response = browser.post(urljoin(page.url, form["action"]), data=fields, timeout=TIMEOUT)
        if "The Sign-in request was interrupted" not in response.text:
            raise AssertionError(f"device login not denied: {_page_message(response.text)}")

    def _confirm_page(self, browser, verification_uri, user_code):
        """Opens the verification page and submits the user code; returns
        the page asking to confirm it."""
        page = browser.get(verification_uri, timeout=TIMEOUT)
        page.raise_for_status()
        form = _forms(page.text)[0] if user_code is None else self._form(page, "op.deviceInputForm")
        fields = dict(form["fields"])
        if user_code is not None:
            fields["user_code"] = user_code
        confirm = browser.post(urljoin(page.url, form["action"]), data=fields, timeout=TIMEOUT)
        if "op.deviceConfirmForm" not in confirm.text:
            raise AssertionError(f"no device confirmation page: {_page_message(confirm.text)}")
        return confirm

    @staticmethod
    def _form(page, form_id):
        for form in _forms(page.text):
            if form["id"] == form_id:
                return form
        raise AssertionError(f"no form {form_id} on {page.url}: {_page_message(page.text)}")

    def get_oidc_discovery(self, alias="default"):
        """Returns the provider's ``/.well-known/openid-configuration`` as a dictionary."""
        return self._get_json("/.well-known/openid-configuration", alias)

    def get_oidc_jwks(self, alias="default"):
        """Returns the provider's public signing keys (its ``jwks_uri``) as a dictionary."""
        return self._get_json("/jwks", alias)

    def sign_test_id_token(self, claims, alias="default"):
        """Returns a JWT with ``claims`` (a dictionary) signed RS256 with the
        provider's own key and ``kid``: a test hook of the harness, to make
        correctly signed tokens that are expired, for another audience or
        with a wrong nonce.

        Example:
        | &{claims}= | Create Dictionary | iss=${OIDC.issuer} | aud=rpa-basic | sub=robot | iat=${0} | exp=${1} |
        | ${token}= | Sign Test ID Token | ${claims} |
        """
        response = requests.post(f"{self._issuer(alias)}/test/sign", data=json.dumps(dict(claims)),
                                 timeout=TIMEOUT)
        response.raise_for_status()
        return response.text

    def _get_json(self, path, alias):
        response = requests.get(f"{self._issuer(alias)}{path}", timeout=TIMEOUT)
        response.raise_for_status()
        return response.json()
