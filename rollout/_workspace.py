"""Where a change is made: a work tree, the toolchains run in it, the templates, and the SDK channel (how the
fleet's builds get the SDK: an internal registry, or artifacts built from this checkout)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import jinja2

from rollout._model import Detection, RingPlan, RolloutError
from rollout._settings import RolloutSettings

CiKind = Literal["github-actions", "gitlab-ci"]
ENV_DIR = "deploy/autopilot"  # the per-ring env files and the dry-run script, in every repository
DRY_RUN_SCRIPT = f"{ENV_DIR}/dry-run.sh"

_TEMPLATES = jinja2.Environment(loader=jinja2.PackageLoader("rollout", "templates"), autoescape=False,
                                keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                                undefined=jinja2.StrictUndefined)


def render(template: str, **values: object) -> str:
    return _TEMPLATES.get_template(template).render(**values)


def run(command: Sequence[str | Path], cwd: Path, timeout: float, env: Mapping[str, str] | None = None) -> str:
    """Run a toolchain command; its failure is a RolloutError naming the command and the end of its output."""
    words = [str(c) for c in command]
    try:
        done = subprocess.run(words, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise RolloutError(f"`{words[0]}` is not installed (needed for `{' '.join(words)}` in {cwd.name}); install "
                           "it or run the bot where the fleet's toolchains are") from exc
    except subprocess.TimeoutExpired as exc:
        raise RolloutError(f"`{' '.join(words)}` in {cwd.name} took more than {timeout:g} s; rerun, or raise "
                           "RCA_ROLLOUT_COMMAND_TIMEOUT_S") from exc
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip())[-1500:]
        raise RolloutError(f"`{' '.join(words)}` failed in {cwd.name} (exit {done.returncode}): {tail}")
    return done.stdout


@dataclass
class Workspace:
    """A work tree the bot changes, with everything a generator needs to know about the repository."""

    root: Path
    detection: Detection
    settings: RolloutSettings
    plan: RingPlan
    ci: CiKind
    channel: SdkChannel = field(init=False)

    def __post_init__(self) -> None:
        self.channel = SdkChannel(self.settings)

    @property
    def service(self) -> str:
        return self.detection.name

    def path(self, relative: str) -> Path:
        return self.root / relative

    def exists(self, relative: str) -> bool:
        return self.path(relative).exists()

    def read(self, relative: str) -> str:
        return self.path(relative).read_text()

    def write(self, relative: str, text: str, executable: bool = False) -> None:
        target = self.path(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        if executable:
            target.chmod(0o755)

    def delete(self, relative: str) -> bool:
        target = self.path(relative)
        if not target.exists():
            return False
        target.unlink()
        parent = target.parent
        while parent != self.root and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
        return True

    def run(self, *command: str | Path, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> str:
        return run(command, cwd or self.root, self.settings.command_timeout_s, env)


class SdkChannel:
    """How a fleet repository's build gets the SDK (see RolloutSettings): what to write in its manifests."""

    def __init__(self, settings: RolloutSettings) -> None:
        self.settings = settings

    @property
    def local(self) -> bool:
        return self.settings.channel == "local"

    def _sdk(self, name: str) -> Path:
        folder = self.settings.sdk_root / name
        if not folder.is_dir():
            raise RolloutError(f"the local SDK channel needs the SDK sources at {folder}; set RCA_ROLLOUT_SDK_ROOT to "
                               "the sdk/ folder of an rca checkout, or RCA_ROLLOUT_CHANNEL=registry")
        return folder.resolve()

    # -- Go: a replace of the module by sdk/go (local), or the version from GOPROXY (registry) -----------------
    def go_replace(self) -> Path | None:
        return self._sdk("go") if self.local else None

    def go_env(self) -> dict[str, str]:
        if self.local or not self.settings.go_proxy:
            return {}
        host = self.settings.go_module.split("/", 1)[0]
        return {"GOPROXY": self.settings.go_proxy, "GONOSUMDB": host, "GOFLAGS": "-mod=mod"}

    # -- npm: a tarball of sdk/node vendored into the repository (local), or the internal registry -------------
    def npm_tarball(self) -> Path:
        """`npm pack` of sdk/node, rebuilt when its sources are newer than the tarball."""
        folder = self._sdk("node")
        out = (self.settings.artifacts_dir / self.settings.sdk_version).resolve()
        tarball = out / f"rca-autopilot-{self.settings.sdk_version}.tgz"
        sources = [folder / "package.json", *(folder / "src").rglob("*")]
        if tarball.exists() and tarball.stat().st_mtime >= max(p.stat().st_mtime for p in sources):
            return tarball
        if not (folder / "node_modules").is_dir():
            raise RolloutError(f"packing the Node SDK needs its build tools: run `npm ci` in {folder} "
                               "(`make node-install` does)")
        out.mkdir(parents=True, exist_ok=True)
        run(["npm", "pack", "--silent", "--pack-destination", out], folder, self.settings.command_timeout_s)
        if not tarball.exists():
            raise RolloutError(f"`npm pack` in {folder} did not produce {tarball.name}; is sdk_version "
                               f"{self.settings.sdk_version} the version in its package.json?")
        return tarball

    # -- Python: a wheel of sdk/python by absolute file URL (local), or a pinned version from the index --------
    def python_requirement(self, extra: str | None) -> str:
        name = f"autopilot[{extra}]" if extra else "autopilot"
        if not self.local:
            return f"{name}=={self.settings.sdk_version}"
        return f"{name} @ {self.python_wheel().as_uri()}"

    def python_wheel(self) -> Path:
        folder = self._sdk("python")
        out = (self.settings.artifacts_dir / self.settings.sdk_version).resolve()
        wheel = out / f"autopilot-{self.settings.sdk_version}-py3-none-any.whl"
        sources = [folder / "pyproject.toml", *(folder / "autopilot").rglob("*.py")]
        if wheel.exists() and wheel.stat().st_mtime >= max(p.stat().st_mtime for p in sources):
            return wheel
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="autopilot-wheel-") as scratch:
            # Built from a copy: setuptools writes build/ and *.egg-info next to the sources it builds.
            source = Path(scratch) / "python"
            shutil.copytree(folder, source,
                            ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))
            run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", out,
                 source], source, self.settings.command_timeout_s)
        if not wheel.exists():
            raise RolloutError(f"`pip wheel {folder}` did not produce {wheel.name}; is sdk_version "
                               f"{self.settings.sdk_version} the version in its pyproject.toml?")
        return wheel

    def pip_index_env(self) -> dict[str, str]:
        return {"PIP_INDEX_URL": self.settings.pip_index} if self.settings.pip_index and not self.local else {}
