"""The `rca` command as a client of a running `rca serve`: where it points (flags, RCA_URL / RCA_TOKEN, or the saved
profile file, like gh's hosts.yml) and the HTTP calls, with every failure told in one line."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from rca._terminal import CliError

DEFAULT_PROFILE = "default"


def profile_path() -> Path:
    """$RCA_CONFIG_DIR/profiles.yml, else $XDG_CONFIG_HOME/rca/profiles.yml, else ~/.config/rca/profiles.yml."""
    from rca._settings import Settings

    settings = Settings()
    if settings.config_dir:
        return Path(settings.config_dir) / "profiles.yml"
    base = Path(settings.xdg_config_home or Path.home() / ".config")
    return base / "rca" / "profiles.yml"


@dataclass(frozen=True)
class Profile:
    name: str
    url: str
    token: str | None


def _read_profiles() -> dict[str, Any]:
    path = profile_path()
    if not path.exists():
        return {}
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise CliError(f"{path} is not valid YAML ({exc.__class__.__name__}); fix it or delete it and run "
                       "`rca login` again") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("profiles", {}), dict):
        raise CliError(f"{path} does not look like an rca profile file; delete it and run `rca login` again")
    return doc


def saved_profile(name: str | None = None) -> Profile | None:
    """The named profile (RCA_PROFILE, else the file's `current`), or None when nothing is saved."""
    doc = _read_profiles()
    from rca._settings import Settings

    chosen = name or Settings().profile
    wanted = chosen or doc.get("current") or DEFAULT_PROFILE
    entry = (doc.get("profiles") or {}).get(wanted)
    if entry is None:
        if chosen:
            raise CliError(f"no profile {wanted!r} in {profile_path()}; save one with `rca login --profile {wanted} "
                           "--url URL --token TOKEN`")
        return None
    return Profile(wanted, str(entry["url"]), entry.get("token"))


def save_profile(profile: Profile) -> Path:
    doc = _read_profiles()
    doc.setdefault("profiles", {})[profile.name] = {"url": profile.url, "token": profile.token}
    doc["current"] = profile.name
    path = profile_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # The file holds a bearer secret: readable by its owner only, from the moment it exists.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        yaml.safe_dump(doc, out, sort_keys=True)
    os.chmod(path, 0o600)
    return path


def forget_profile(name: str | None) -> str | None:
    """Remove a profile (the current one by default); returns its name, or None when there was none."""
    doc = _read_profiles()
    profiles = doc.get("profiles") or {}
    wanted = name or doc.get("current") or DEFAULT_PROFILE
    if wanted not in profiles:
        return None
    del profiles[wanted]
    if doc.get("current") == wanted:
        doc["current"] = next(iter(sorted(profiles)), None)
    path = profile_path()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        yaml.safe_dump(doc, out, sort_keys=True)
    return wanted


class ApiClient:
    """HTTP calls to `rca serve` with a bearer token. `transport` is the seam tests use (httpx.MockTransport or
    an ASGI app); every failure becomes a one-line CliError naming the server and what to do."""

    def __init__(self, url: str, token: str | None, *, transport: httpx.BaseTransport | None = None,
                 timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            raise CliError(f"cannot reach {self.url} ({_reason(exc)}); is `rca serve` running there? "
                           "Check --url, RCA_URL or `rca login`.") from None
        except httpx.TimeoutException:
            raise CliError(f"{self.url} did not answer {method} {path} in time; try again, or check the server's "
                           "logs") from None
        except httpx.HTTPError as exc:
            raise CliError(f"{method} {self.url}{path} failed: {_reason(exc)}") from None
        if response.status_code >= 400:
            raise CliError(self._explain(response))
        try:
            return response.json()
        except ValueError:
            raise CliError(f"{self.url}{path} answered {response.status_code} with something that is not JSON; "
                           "is that an rca server?") from None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        if body is not None:
            kwargs["json"] = body
        return self.request("POST", path, **kwargs)

    def pages(self, path: str, at_most: int | None = None, **params: Any) -> Iterator[dict[str, Any]]:
        """Items of a list endpoint, following `next_cursor` when the server pages (and one call when it does not)."""
        cursor: str | None = None
        seen = 0
        while True:
            body = self.get(path, **params, cursor=cursor)
            for item in body.get("items", []):
                yield item
                seen += 1
                if at_most is not None and seen >= at_most:
                    return
            cursor = body.get("next_cursor")
            if not cursor:
                return

    def _explain(self, response: httpx.Response) -> str:
        try:
            body = response.json()
            message = body.get("message") or body.get("detail") or response.reason_phrase
        except ValueError:
            message = response.text.strip()[:200] or response.reason_phrase
        status = response.status_code
        if status == 401:
            who = "no token was sent" if not self.token else "the token was not accepted (unknown or revoked)"
            return (f"{self.url} refused the request: {who}. Ask an admin for a reader token (`rca token create "
                    "--role reader`) and pass it with --token, RCA_TOKEN or `rca login`.")
        if status == 403:
            return f"{self.url} refused the request (403): {message}"
        if status == 404:
            return f"not found: {message}"
        return f"{self.url} answered {status}: {message}"


def _reason(exc: Exception) -> str:
    text = str(exc) or exc.__class__.__name__
    if "Connection refused" in text or "[Errno 111]" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    return text.splitlines()[0]
