"""Multi-part uploads: parts at byte offsets, states 68000 to 68006."""

from __future__ import annotations

import datetime
from functools import partial

import msgspec

from ... import types as t
from ._app import AppState, StateBase, UploadState
from ._common import (
    Code,
    delete_each,
    find,
    invalid,
    now,
    ok,
    page_of,
    status,
)


class UploadsArea(StateBase):
    """Multi-part uploads."""

    def _upload(self, app: AppState, upload_id: str) -> UploadState:
        return find(app.uploads, upload_id, Code.CONN_DOES_NOT_EXIST, "Upload")

    def PostUploads(self, req: t.PostUploadsRequest) -> t.MultiUploadResponse:
        """Start uploads of ``content_length`` bytes (state 68000)."""
        app = self.app(req.user_app_id)
        if not req.uploads:
            raise invalid("uploads must not be empty")
        out = []
        for u in req.uploads:
            if u.content_length <= 0:
                raise invalid("content_length must be positive")
        for u in req.uploads:
            stamp = now()
            upload = t.Upload(
                id=self.new_id("upload"),
                created_at=stamp,
                modified_at=stamp,
                expires_at=stamp + datetime.timedelta(days=1),
                content_name=u.content_name,
                content_length=u.content_length,
            )
            state = app.uploads[upload.id] = UploadState(upload)
            out.append(state.view())
        return ok(t.MultiUploadResponse, uploads=out)

    def PutUploadContentParts(self, req: t.PutUploadContentPartsRequest) -> t.SingleUploadResponse:
        """Store parts at their byte offsets; done (68001) once every byte arrived."""
        app = self.app(req.user_app_id)
        state = self._upload(app, req.upload_id)
        if state.code not in (Code.UPLOAD_IN_PROGRESS, Code.UPLOAD_DONE):
            raise invalid(f"upload is in state {state.code}", state.code)
        total = state.upload.content_length
        for part in req.content_parts:
            if part.part_number < 1:
                raise invalid("part_number starts at 1")
            if part.range_start < 0 or part.range_start + len(part.data) > total:
                raise invalid(
                    f"part {part.part_number} ({part.range_start}+{len(part.data)}) "
                    f"exceeds content_length {total}"
                )
        for part in req.content_parts:
            start, data = part.range_start, part.data
            buf = state.buffer
            if len(buf) < start + len(data):
                buf.extend(bytes(start + len(data) - len(buf)))
            buf[start : start + len(data)] = data
            state.parts[part.part_number] = (start, len(data))
        if state.received() >= total:
            state.code = Code.UPLOAD_DONE
        state.upload = msgspec.structs.replace(state.upload, modified_at=now())
        view = state.view()
        return t.SingleUploadResponse(
            status=status(Code.SUCCESS, percent_completed=state.percent()), upload=view
        )

    def GetUpload(self, req: t.GetUploadRequest) -> t.SingleUploadResponse:
        """One upload with its state and ``percent_completed``."""
        app = self.app(req.user_app_id)
        return ok(t.SingleUploadResponse, upload=self._upload(app, req.upload_id).view())

    def ListUploads(self, req: t.ListUploadsRequest) -> t.MultiUploadResponse:
        """Uploads, newest first."""
        app = self.app(req.user_app_id)
        ordered = [u.view() for u in reversed(app.uploads.values())]
        return ok(t.MultiUploadResponse, uploads=page_of(ordered, req.page, req.per_page))

    def DeleteUploads(self, req: t.DeleteUploadsRequest) -> t.BaseResponse:
        """Delete uploads and their bytes."""
        app = self.app(req.user_app_id)
        delete_each(app.uploads, req.ids, partial(self._upload, app))
        return ok(t.BaseResponse)
