"""The PR-bot's settings, from RCA_ROLLOUT_* variables: which SDK version, where fleet builds get it, where rca is."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# In a checkout of this repository the SDKs sit beside the package; an installed rca has no sdk/ folder, so the
# local channel then needs RCA_ROLLOUT_SDK_ROOT.
_CHECKOUT_SDK = Path(__file__).resolve().parent.parent / "sdk"


class RolloutSettings(BaseSettings):
    """Everything a generated change depends on besides the repository itself.

    The SDK channel says how fleet builds get the SDK with no public network:
    - `registry` (fleets): an internal registry of each kind (`npm_registry`, `pip_index`, `go_proxy` with the SDK
      published as `go_module`; Maven resolves through the organisation's settings.xml mirror) serves the pinned
      version, and the change names only that version.
    - `local` (demos, tests, one machine): artifacts built from this checkout: the Maven artifacts in the local
      repository (`mvn install` in sdk/java), a `replace` of the Go module by sdk/go, an `npm pack` tarball of
      sdk/node and a wheel of sdk/python, referred to by absolute path.
    """

    model_config = SettingsConfigDict(env_prefix="RCA_ROLLOUT_", extra="ignore")

    sdk_version: str = "0.1.0"
    channel: Literal["local", "registry"] = "local"
    sdk_root: Path = _CHECKOUT_SDK
    artifacts_dir: Path = Path("var/rollout/artifacts")
    go_module: str = "autopilot-go"
    go_proxy: str | None = None
    npm_registry: str | None = None
    pip_index: str | None = None
    # Where services send evidence in each environment (written into the per-ring config, flag off).
    staging_endpoint: str = "http://127.0.0.1:8080"
    prod_endpoint: str = "http://127.0.0.1:8080"
    # The local forge: bare repositories under forge_root; every forge's changes are computed in workdir.
    forge_root: Path = Path("var/rollout/forge")
    workdir: Path = Path("var/rollout/work")
    github_url: str = "https://api.github.com"
    github_token: str | None = Field(default=None, repr=False)
    gitlab_url: str = "https://gitlab.com"
    gitlab_token: str | None = Field(default=None, repr=False)
    # The dry run (`rca rollout open --dry-run-url`): the staging producer token, and a reader token to read it back.
    dry_run_token: str | None = Field(default=None, repr=False)
    dry_run_reader_token: str | None = Field(default=None, repr=False)
    author_name: str = "rca rollout"
    author_email: str = "rollout@rca.invalid"
    # Seconds a toolchain command (go mod tidy, npm install, the dry run) may take before it is stopped.
    command_timeout_s: float = Field(default=600.0, gt=0)

    @property
    def go_version(self) -> str:
        return f"v{self.sdk_version}"
