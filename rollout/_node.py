"""Node service: @rca/autopilot through npm (the lockfile with it), a module that configures the SDK and wraps the
kafkajs producer, a start-up test for node:test, and the CI (`npx autopilot deploy-event`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from rollout._detect import NPM_PACKAGE, node_entry
from rollout._model import Archetype, Change, ChangeItem, RolloutError
from rollout._shared import Toolkit, remove_shared, write_ci, write_dry_run, write_env_files
from rollout._treesitter import js_uses, unwire_js, wire_js
from rollout._workspace import Workspace, render

MODULE = "autopilot.js"
TEST_FILE = "test/autopilot-start.test.mjs"
VENDOR = "vendor"
BUILD = "npm ci && npm test"
_NPM = ("--no-audit", "--no-fund", "--loglevel=error", "--prefer-offline")


def toolkit(ws: Workspace) -> Toolkit:
    return Toolkit(
        cli="npx --no-install autopilot",
        prepare=(),
        github_setup=("      - uses: actions/setup-node@v4", "        with: { node-version: \"20\", cache: npm }",
                      "      - run: npm ci"),
        gitlab_image="node:20",
        gitlab_setup=("npm ci",),
        prerequisite=" after `npm ci` (the CLI is the SDK's own, from node_modules)")


def onboard(ws: Workspace) -> Change:
    manifest = json.loads(ws.read("package.json"))
    entry = node_entry(manifest)
    if entry is None or not ws.exists(entry):
        raise RolloutError(f"{ws.root.name}: the start script's file {entry!r} does not exist; fix package.json")
    items: list[ChangeItem] = []
    if ws.channel.local:
        tarball = ws.channel.npm_tarball()
        ws.path(VENDOR).mkdir(exist_ok=True)
        ws.path(f"{VENDOR}/{tarball.name}").write_bytes(tarball.read_bytes())
        spec = f"./{VENDOR}/{tarball.name}"
        items.append(ChangeItem(f"{VENDOR}/{tarball.name}", f"the SDK's npm package ({ws.settings.sdk_version}), "
                                "vendored: the local channel has no registry"))
    else:
        if ws.settings.npm_registry:
            _npmrc(ws, add=True)
            items.append(ChangeItem(".npmrc", f"@rca packages from {ws.settings.npm_registry}"))
        spec = f"{NPM_PACKAGE}@{ws.settings.sdk_version}"
    ws.run("npm", "install", "--save-exact", *_NPM, spec)
    items.append(ChangeItem("package.json", f"depends on `{NPM_PACKAGE}` {ws.settings.sdk_version} (pinned, `npm "
                            "install --save-exact`); package-lock.json updated by npm"))
    entry_path = ws.path(entry)
    module_path = entry_path.with_name(MODULE)  # an ES module when the package is ("type": "module"), else CommonJS
    wrapped = 0
    for path in _sources(ws.root, entry_path.parent):
        text = path.read_text()
        if not js_uses(text, "kafkajs"):
            continue
        edit = wire_js(text, _specifier(path, module_path), _is_esm(path, manifest))
        if edit.wrapped:
            path.write_text(edit.text)
            wrapped += edit.wrapped
            items.append(ChangeItem(str(path.relative_to(ws.root)), f"the kafkajs producer wrapped in "
                                    f"instrumentProducer(...) ({edit.wrapped} call)"))
    notes: list[str] = []
    if not wrapped:
        notes.append("No kafkajs producer found: the identity headers are not wired. With @platformatic/kafka, "
                     "wrap the Producer with instrumentProducer from @rca/autopilot/platformatic-kafka.")
        ws.path(entry).write_text(_import_line(ws.path(entry), module_path, manifest) + ws.read(entry))
        items.append(ChangeItem(entry, f"imports ./{module_path.name} (configures the SDK at start-up)"))
    ws.write(str(module_path.relative_to(ws.root)), render("autopilot.js.j2", esm=_is_esm(module_path, manifest)))
    items.append(ChangeItem(str(module_path.relative_to(ws.root)), "configures the SDK from AUTOPILOT_* (off unless "
                            "AUTOPILOT_ENABLED=true) and exports the producer wrapper `instrumentProducer`"))
    ws.write(TEST_FILE, render("autopilot-start.test.mjs.j2", service=ws.service,
                               entry=os.path.relpath(entry_path, ws.path("test"))))
    items.append(ChangeItem(TEST_FILE, "node:test: the service starts with the SDK off and with it on against a "
                            "dead rca"))
    script = str((manifest.get("scripts") or {}).get("test") or "")
    if "node --test" not in script:
        notes.append(f"`npm test` runs `{script or 'nothing'}`, which does not pick up {TEST_FILE}: run it with "
                     f"`node --test {TEST_FILE}` in CI.")
    kit = toolkit(ws)
    items += write_env_files(ws, {})
    items += write_dry_run(ws, kit)
    ci_items, ci_notes = write_ci(ws, kit)
    return Change("onboard", Archetype.NODE_SERVICE, ws.service, ws.settings.sdk_version, tuple(items + ci_items),
                  tests=(TEST_FILE,), notes=tuple(notes + ci_notes), build=BUILD, ci=ws.ci)


def remove(ws: Workspace) -> Change:
    items: list[ChangeItem] = []
    for path in _sources(ws.root, ws.root):
        relative = str(path.relative_to(ws.root))
        text = path.read_text()
        if path.name in ("autopilot.js", "autopilot.mjs", "autopilot.cjs") and "Added by rca rollout" in text[:200]:
            ws.delete(relative)
            items.append(ChangeItem(relative, "deleted"))
            continue
        edit = unwire_js(text, _specifier(path, path.with_name(_module_name(text) or MODULE)))
        if edit.text != text:
            path.write_text(edit.text)
            items.append(ChangeItem(relative, "instrumentProducer(...) and its import removed"))
    if ws.exists(TEST_FILE):
        ws.delete(TEST_FILE)
        items.append(ChangeItem(TEST_FILE, "deleted"))
    ws.run("npm", "uninstall", *_NPM, NPM_PACKAGE)
    items.append(ChangeItem("package.json", f"no longer depends on {NPM_PACKAGE} (`npm uninstall`)"))
    for tarball in sorted(ws.path(VENDOR).glob("rca-autopilot-*.tgz")) if ws.path(VENDOR).is_dir() else []:
        relative = str(tarball.relative_to(ws.root))
        ws.delete(relative)
        items.append(ChangeItem(relative, "deleted"))
    if _npmrc(ws, add=False):
        items.append(ChangeItem(".npmrc", "the @rca registry line removed"))
    items += remove_shared(ws)
    notes = [f"`{p.relative_to(ws.root)}` still uses {NPM_PACKAGE}: remove those calls."
             for p in _sources(ws.root, ws.root) if NPM_PACKAGE in p.read_text()]
    return Change("remove", Archetype.NODE_SERVICE, ws.service, ws.settings.sdk_version, tuple(items),
                  notes=tuple(notes), build=BUILD, ci=ws.ci)


def _sources(root: Path, folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in (".js", ".mjs", ".cjs") and p.is_file()
                  and not {"node_modules", "test", VENDOR, "dist"} & set(p.relative_to(root).parts))


def _is_esm(path: Path, manifest: dict[str, object]) -> bool:
    return path.suffix == ".mjs" or (path.suffix == ".js" and manifest.get("type") == "module")


def _specifier(source: Path, module: Path) -> str:
    relative = os.path.relpath(module, source.parent)
    return relative if relative.startswith(".") else f"./{relative}"


def _module_name(text: str) -> str | None:
    for name in ("autopilot.js", "autopilot.mjs", "autopilot.cjs"):
        if f"/{name}\"" in text or f"/{name}'" in text:
            return name
    return None


def _import_line(path: Path, module: Path, manifest: dict[str, object]) -> str:
    specifier = _specifier(path, module)
    return f'import "{specifier}";\n' if _is_esm(path, manifest) else f'require("{specifier}");\n'


def _npmrc(ws: Workspace, add: bool) -> bool:
    line = f"@rca:registry={ws.settings.npm_registry}"
    text = ws.read(".npmrc") if ws.exists(".npmrc") else ""
    if add:
        if "@rca:registry=" not in text:
            ws.write(".npmrc", text + ("" if not text or text.endswith("\n") else "\n") + line + "\n")
        return True
    kept = [x for x in text.splitlines(keepends=True) if not x.startswith("@rca:registry=")]
    if len(kept) == len(text.splitlines(keepends=True)):
        return False
    if "".join(kept).strip():
        ws.write(".npmrc", "".join(kept))
    else:
        ws.delete(".npmrc")
    return True
