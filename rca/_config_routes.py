"""Create / read / update / delete for policies, contracts, resolution rules and lineage edges."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field, StrictBool, StrictInt, create_model
from starlette.concurrency import run_in_threadpool

from detectors import compile_contract, compile_stored
from evidence import (
    CONTRACT,
    INT32_MAX,
    LINEAGE,
    MAPPING,
    POLICY,
    ConfigError,
    ConfigKind,
    Configs,
    Contract,
    Control,
    Identifier,
    Stored,
    effective_control,
    get_control,
    put_control,
    urn_error,
)
from rca._auth import AdminDep, ReaderDep, TokenDep
from rca._errors import ApiError
from rca._responses import DomainControl, ProducerControl, documented

router = APIRouter()
ConfigId = Annotated[int, Path(ge=1, le=INT32_MAX)]


def checked(spec: Any) -> Any:
    """Admin input is validated before it is stored: a contract must compile to the gate's checks (a contract
    the gate cannot run would otherwise stop it for every topic)."""
    if isinstance(spec, Contract):
        try:
            compile_contract(spec)
        except ConfigError as exc:
            raise ApiError(422, "invalid_request", str(exc), field="schema") from None
    return spec


def _json(stored: Stored[Any]) -> dict[str, Any]:
    return {"id": stored.id, **stored.spec.model_dump(mode="json", by_alias=True, exclude_none=True),
            "created_at": stored.created_at.isoformat(), "updated_at": stored.updated_at.isoformat()}


class InvalidConfig(BaseModel):
    """A stored item that no longer validates: listed, and skipped by the detectors until fixed or deleted."""

    kind: str
    id: int
    key: str
    error: str


def _stored_model(model: type[BaseModel]) -> type[BaseModel]:
    """The response shape of a stored item: its spec (patterns and all) with its id and times."""
    return create_model(f"Stored{model.__name__}", __base__=model, id=(int, Field(ge=1, le=INT32_MAX)),
                        created_at=(datetime, ...), updated_at=(datetime, ...))


def _crud(plural: str, kind: ConfigKind[Any], title: str) -> None:
    model = kind.model
    stored_model = _stored_model(model)
    listing = create_model(f"{model.__name__}List", items=(list[stored_model], ...),  # type: ignore[valid-type]
                           invalid=(list[InvalidConfig], ...))

    @router.get(f"/v1/{plural}", tags=["configuration"], response_model=listing,
                summary=f"List {title}s (stored ones that no longer validate are listed under `invalid`, and skipped "
                "by the detectors)")
    def list_all(request: Request, _: ReaderDep) -> dict[str, Any]:
        valid, invalid = Configs(request.app.state.store).load(kind)
        if kind is CONTRACT:  # a stored contract the gate cannot compile is skipped by it: listed as invalid too
            compiled = compile_stored(valid, invalid)
            valid = [s for s in valid if s.spec.dataset_urn in compiled]
        return {"items": [_json(s) for s in valid], "invalid": [f.as_json() for f in invalid]}

    @router.post(f"/v1/{plural}", status_code=201, tags=["configuration"], response_model=stored_model,
                 summary=f"Create a {title} (or replace the one with the same natural key)")
    async def create(request: Request, spec: model, _: AdminDep) -> dict[str, Any]:  # type: ignore[valid-type]
        state = request.app.state
        stored = await run_in_threadpool(Configs(state.store).put, kind, checked(spec), state.clock())
        return _json(stored)

    @router.get(f"/v1/{plural}/{{config_id}}", tags=["configuration"], response_model=stored_model,
                summary=f"Read a {title}")
    def read(request: Request, config_id: ConfigId, _: ReaderDep) -> dict[str, Any]:
        return _json(Configs(request.app.state.store).get(kind, config_id))

    @router.put(f"/v1/{plural}/{{config_id}}", tags=["configuration"], response_model=stored_model,
                summary=f"Replace a {title}")
    async def update(request: Request, config_id: ConfigId, spec: model, _: AdminDep) -> dict[str, Any]:  # type: ignore[valid-type]
        state = request.app.state
        return _json(await run_in_threadpool(Configs(state.store).replace, kind, config_id, checked(spec),
                                             state.clock()))

    @router.delete(f"/v1/{plural}/{{config_id}}", status_code=204, tags=["configuration"], summary=f"Delete a {title}")
    def remove(request: Request, config_id: ConfigId, _: AdminDep) -> Response:
        Configs(request.app.state.store).delete(kind, config_id)
        return Response(status_code=204)


_crud("policies", POLICY, "freshness policy")
_crud("contracts", CONTRACT, "contract")
_crud("mappings", MAPPING, "resolution rule")
_crud("lineage-edges", LINEAGE, "lineage edge")


class ControlSpec(BaseModel):
    enabled: StrictBool = True
    killed: StrictBool = False
    ring: StrictInt = Field(default=0, ge=0, le=INT32_MAX)
    domain: Identifier | None = None


@router.get("/v1/control/{producer:path}", tags=["control"], response_model=None,
            responses=documented(ProducerControl),
            summary="What a producer SDK must obey: enabled, ring, killed (its own or its domain's kill switch), and "
                    "with `env` its flag in that environment")
def read_control(request: Request, producer: str, token: TokenDep, domain: str | None = None,
                 env: Annotated[str | None, Query(
                     description="the SDK's environment (AUTOPILOT_ENV). Any value is taken: one the rollout "
                                 "cannot have named is an environment it never reached, and the kill switch still "
                                 "reaches an SDK whatever its AUTOPILOT_ENV holds")] = None,
                 ) -> dict[str, Any]:
    if not (token.may_read or token.may_write(producer)):
        raise ApiError(403, "forbidden", f"Token {token.name!r} may not read the control of {producer}.")
    found = effective_control(request.app.state.store, producer, domain, env)
    if found is None:
        raise ApiError(404, "not_found", f"No control entry for {producer}; the SDK keeps its defaults.")
    return found


@router.put("/v1/control/{producer:path}", tags=["control"], summary="Set a producer's switch (admin)",
            response_model=None, responses=documented(ProducerControl))
def set_control(request: Request, producer: str, spec: ControlSpec, _: AdminDep) -> dict[str, Any]:
    state = request.app.state
    if (problem := urn_error(producer)) is not None:
        raise ApiError(422, "invalid_request", f"'producer' {problem}", field="producer")
    put_control(state.store, Control("producer", producer, spec.enabled, spec.killed, spec.ring, spec.domain),
                state.clock())
    return effective_control(state.store, producer) or {}


@router.put("/v1/control-domains/{domain}", tags=["control"], summary="Set a whole domain's switch (admin)",
            response_model=None, responses=documented(DomainControl))
def set_domain_control(request: Request, domain: Annotated[Identifier, Path()], spec: ControlSpec,
                       _: AdminDep) -> dict[str, Any]:
    state = request.app.state
    put_control(state.store, Control("domain", domain, spec.enabled, spec.killed, spec.ring, domain), state.clock())
    control = get_control(state.store, "domain", domain)
    assert control is not None
    return {"domain": domain, "enabled": control.enabled, "killed": control.killed, "ring": control.ring}
