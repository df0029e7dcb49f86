"""Go module: the autopilot-go requirement through the go command, the module import and a small wrapper around the
franz-go client (the identity hints on every record), a start-up test, and the CI (`go run .../autopilot-go`)."""

from __future__ import annotations

import shutil
from pathlib import Path

from rollout._detect import go_main_files, go_requires
from rollout._model import Archetype, Change, ChangeItem
from rollout._shared import Toolkit, remove_shared, write_ci, write_dry_run, write_env_files
from rollout._treesitter import KGO, go_import_name, unwire_go, wire_go
from rollout._workspace import Workspace, render

WRAPPER_FILE = "autopilot.go"
TEST_FILE = "autopilot_start_test.go"
BUILD = "go vet ./... && go test ./..."


def toolkit(ws: Workspace) -> Toolkit:
    return Toolkit(
        cli=f"go run {ws.settings.go_module}/cmd/autopilot-go",
        prepare=(),
        github_setup=("      - uses: actions/setup-go@v5", "        with: { go-version-file: go.mod }"),
        gitlab_image="golang:1.22",
        gitlab_setup=(),
        prerequisite=" (Go 1.22+; `go run` builds the CLI from the SDK version go.mod requires)")


def onboard(ws: Workspace) -> Change:
    module, version = ws.settings.go_module, ws.settings.go_version
    replace = ws.channel.go_replace()
    if replace is not None:
        ws.run("go", "mod", "edit", f"-require={module}@{version}", f"-replace={module}={replace}")
        how = f"requires `{module} {version}`, replaced by the SDK at `{replace}` (local channel)"
    else:
        ws.run("go", "get", f"{module}@{version}", env=ws.channel.go_env())
        how = f"requires `{module} {version}` (from the module proxy)"
    items = [ChangeItem("go.mod", how)]
    mains = go_main_files(ws.root)
    folder = mains[0].parent
    relative_folder = "" if folder == ws.root else f"{folder.relative_to(ws.root)}/"
    notes: list[str] = []
    uses_kgo = any(go_import_name(p.read_text()) is not None for p in mains)
    for path in mains:
        edit = wire_go(path.read_text())
        if edit.text != path.read_text():
            path.write_text(edit.text)
            _gofmt(ws, path)
            what = []
            if edit.wrapped:
                what.append(f"kgo.NewClient options wrapped in withAutopilot(...) ({edit.wrapped} call)")
            if edit.deferred:
                what.append("main defers shutdownAutopilot() (delivers what is queued at exit)")
            items.append(ChangeItem(str(path.relative_to(ws.root)), "; ".join(what)))
    if not uses_kgo:
        notes.append(f"No franz-go client ({KGO}) in package main: the identity headers are not wired. With "
                     "franz-go elsewhere, add kautopilot.WithIdentity(autopilotClient) to its options; kafka-go and "
                     "sarama have adapters (see the Go SDK's README).")
    ws.write(f"{relative_folder}{WRAPPER_FILE}", render("autopilot.go.j2", module=module, kgo=uses_kgo))
    items.append(ChangeItem(f"{relative_folder}{WRAPPER_FILE}", "the client (`autopilot.New()`, off unless "
                            "AUTOPILOT_ENABLED=true)" + (" and the Kafka producer wrapper `withAutopilot`"
                                                         if uses_kgo else "")))
    ws.write(f"{relative_folder}{TEST_FILE}", render("autopilot_start_test.go.j2", service=ws.service))
    items.append(ChangeItem(f"{relative_folder}{TEST_FILE}", "the service starts with the SDK off and with it on "
                            "against a dead rca"))
    ws.run("go", "mod", "tidy", env=ws.channel.go_env())
    ws.run("go", "vet", "./...", env=ws.channel.go_env())  # compiles every package, writes no binary
    items.append(ChangeItem("go.sum", "`go mod tidy`"))
    kit = toolkit(ws)
    items += write_env_files(ws, {})
    items += write_dry_run(ws, kit)
    ci_items, ci_notes = write_ci(ws, kit)
    return Change("onboard", Archetype.GO_MODULE, ws.service, ws.settings.sdk_version, tuple(items + ci_items),
                  tests=(f"{relative_folder}{TEST_FILE}",), notes=tuple(notes + ci_notes), build=BUILD, ci=ws.ci)


def remove(ws: Workspace) -> Change:
    module = ws.settings.go_module
    items: list[ChangeItem] = []
    for path in sorted(ws.root.rglob("*.go")):
        relative = str(path.relative_to(ws.root))
        if path.name in (WRAPPER_FILE, TEST_FILE) and "Added by rca rollout" in path.read_text()[:200]:
            ws.delete(relative)
            items.append(ChangeItem(relative, "deleted"))
            continue
        edit = unwire_go(path.read_text())
        if edit.text != path.read_text():
            path.write_text(edit.text)
            _gofmt(ws, path)
            items.append(ChangeItem(relative, "withAutopilot(...) and the deferred shutdown removed"))
    ws.run("go", "mod", "edit", f"-droprequire={module}", f"-dropreplace={module}")
    ws.run("go", "mod", "tidy", env=ws.channel.go_env())
    ws.run("go", "vet", "./...", env=ws.channel.go_env())  # compiles every package, writes no binary
    items.append(ChangeItem("go.mod", f"no longer requires {module} (`go mod tidy`)"))
    items += remove_shared(ws)
    notes = [f"`{p.relative_to(ws.root)}` still imports {module}: remove those calls."
             for p in sorted(ws.root.rglob("*.go")) if f'"{module}' in p.read_text()]
    if module in go_requires(ws.read("go.mod")):
        notes.append(f"go.mod still requires {module}: something still imports it.")
    return Change("remove", Archetype.GO_MODULE, ws.service, ws.settings.sdk_version, tuple(items),
                  notes=tuple(notes), build=BUILD, ci=ws.ci)


def _gofmt(ws: Workspace, path: Path) -> None:
    go = shutil.which("go")
    gofmt = shutil.which("gofmt") or (str(Path(go).resolve().parent / "gofmt") if go else "gofmt")
    ws.run(gofmt, "-w", path)
