"""Modules and module versions: create, list, get, patch, delete, usage counts."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

import msgspec

from ... import types as t
from ._app import AppState, StateBase
from ._common import (
    Code,
    delete_each,
    find,
    invalid,
    now,
    ok,
    page_of,
    patch_each,
    sorted_like,
)


class ModulesArea(StateBase):
    """Modules and module versions."""

    def PostModules(self, req: t.PostModulesRequest) -> t.MultiModuleResponse:
        """Create modules (ids required and new)."""
        app = self.app(req.user_app_id)
        created = []
        for m in req.modules:
            if not m.id:
                raise invalid("module id is required", Code.MODULE_INVALID_ARGUMENT)
            if m.id in app.modules:
                raise invalid(f"module '{m.id}' already exists", Code.MODULE_INVALID_ARGUMENT)
        for m in req.modules:
            stamp = now()
            module = msgspec.structs.replace(
                m,
                created_at=stamp,
                modified_at=stamp,
                user_id=app.user_id,
                app_id=app.app_id,
                visibility=m.visibility or t.Visibility(gettable=10),
            )
            app.modules[m.id] = module
            app.module_versions[m.id] = {}
            created.append(module)
        return ok(t.MultiModuleResponse, modules=created)

    def _module(self, app: AppState, module_id: str) -> t.Module:
        return find(app.modules, module_id, Code.MODULE_DOES_NOT_EXIST, "Module")

    def ListModules(self, req: t.ListModulesRequest) -> t.MultiModuleResponse:
        """Modules, newest first unless a sort is asked for; ``search``/``name`` filter."""
        app = self.app(req.user_app_id)
        items: Iterable[t.Module] = app.modules.values()
        needle = (req.search or req.name).lower()
        if needle:
            items = [m for m in items if needle in m.id.lower() or needle in m.description.lower()]
        if req.starred_only:
            items = [m for m in items if m.is_starred]
        ordered = sorted_like(
            items,
            ascending=req.sort_ascending,
            by_id=req.sort_by_id,
            by_modified=req.sort_by_modified_at,
            by_stars=req.sort_by_star_count,
        )
        return ok(t.MultiModuleResponse, modules=page_of(ordered, req.page, req.per_page))

    def GetModule(self, req: t.GetModuleRequest) -> t.SingleModuleResponse:
        """One module, or 404 / 25300."""
        app = self.app(req.user_app_id)
        return ok(t.SingleModuleResponse, module=self._module(app, req.module_id))

    def PatchModules(self, req: t.PatchModulesRequest) -> t.MultiModuleResponse:
        """Merge, overwrite or remove fields of existing modules."""
        app = self.app(req.user_app_id)
        out = patch_each(app.modules, req.modules, partial(self._module, app), req.action)
        return ok(t.MultiModuleResponse, modules=out)

    def DeleteModules(self, req: t.DeleteModulesRequest) -> t.BaseResponse:
        """Delete modules and their versions (404 if any is missing)."""
        app = self.app(req.user_app_id)
        delete_each(app.modules, req.ids, partial(self._module, app))
        for module_id in req.ids:
            app.module_versions.pop(module_id, None)
        return ok(t.BaseResponse)

    # -- module versions -----------------------------------------------------------

    def _versions(self, app: AppState, module_id: str) -> dict[str, t.ModuleVersion]:
        self._module(app, module_id)
        return app.module_versions.setdefault(module_id, {})

    def _version(self, app: AppState, module_id: str, version_id: str) -> t.ModuleVersion:
        versions = self._versions(app, module_id)
        return find(versions, version_id, Code.MODULE_DOES_NOT_EXIST, "Module version")

    def PostModuleVersions(self, req: t.PostModuleVersionsRequest) -> t.MultiModuleVersionResponse:
        """Create versions of a module (ids made up when absent)."""
        app = self.app(req.user_app_id)
        versions = self._versions(app, req.module_id)
        out = []
        for v in req.module_versions:
            if v.id and v.id in versions:
                raise invalid(f"module version '{v.id}' exists", Code.MODULE_INVALID_ARGUMENT)
        for v in req.module_versions:
            stamp = now()
            version = msgspec.structs.replace(
                v,
                id=v.id or self.new_id("mv"),
                module_id=req.module_id,
                app_id=app.app_id,
                user_id=app.user_id,
                created_at=stamp,
                modified_at=stamp,
            )
            versions[version.id] = version
            out.append(version)
        if out:
            module = app.modules[req.module_id]
            app.modules[req.module_id] = msgspec.structs.replace(module, module_version=out[-1])
        return ok(t.MultiModuleVersionResponse, module_versions=out)

    def ListModuleVersions(self, req: t.ListModuleVersionsRequest) -> t.MultiModuleVersionResponse:
        """A module's versions, newest first."""
        app = self.app(req.user_app_id)
        ordered = list(reversed(self._versions(app, req.module_id).values()))
        return ok(
            t.MultiModuleVersionResponse,
            module_versions=page_of(ordered, req.page, req.per_page),
        )

    def GetModuleVersion(self, req: t.GetModuleVersionRequest) -> t.SingleModuleVersionResponse:
        """One module version; each fetch counts as a use."""
        app = self.app(req.user_app_id)
        version = self._version(app, req.module_id, req.module_version_id)
        # A fetch counts as a use, so usage counts move in tests.
        app.module_version_uses[(req.module_id, version.id)] += 1
        return ok(t.SingleModuleVersionResponse, module_version=version)

    def GetModuleVersionUsageCount(
        self, req: t.GetModuleVersionUsageCountRequest
    ) -> t.SingleModuleVersionUsageCountResponse:
        """How many times the version was fetched."""
        app = self.app(req.user_app_id)
        version = self._version(app, req.module_id, req.module_version_id)
        count = app.module_version_uses[(req.module_id, version.id)]
        return ok(t.SingleModuleVersionUsageCountResponse, usage_count=count)

    def PatchModuleVersions(
        self, req: t.PatchModuleVersionsRequest
    ) -> t.MultiModuleVersionResponse:
        """Merge, overwrite or remove fields of module versions."""
        app = self.app(req.user_app_id)
        versions = self._versions(app, req.module_id)
        find = partial(self._version, app, req.module_id)
        out = patch_each(versions, req.module_versions, find, req.action)
        return ok(t.MultiModuleVersionResponse, module_versions=out)

    def DeleteModuleVersions(self, req: t.DeleteModuleVersionsRequest) -> t.BaseResponse:
        """Delete module versions (404 if any is missing)."""
        app = self.app(req.user_app_id)
        versions = self._versions(app, req.module_id)
        delete_each(versions, req.ids, partial(self._version, app, req.module_id))
        return ok(t.BaseResponse)
