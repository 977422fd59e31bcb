"""Labelling tasks, assignments, counts and annotation status."""

from __future__ import annotations

from collections import Counter
from functools import partial

import msgspec

from ... import types as t
from ._app import AppState, Assignment, StateBase
from ._common import (
    Code,
    delete_each,
    find,
    invalid,
    not_found,
    now,
    ok,
    page_of,
    patch_each,
    status,
)


class TasksArea(StateBase):
    """Labelling tasks, assignments, counts and annotation status."""

    def _task(self, app: AppState, task_id: str) -> t.Task:
        return find(app.tasks, task_id, Code.TASK_MISSING, "Task")

    def PostTasks(self, req: t.PostTasksRequest) -> t.MultiTaskResponse:
        """Create tasks (ids made up when absent), in progress."""
        app = self.app(req.user_app_id)
        out = []
        for task in req.tasks:
            if task.id and task.id in app.tasks:
                raise invalid(f"task '{task.id}' already exists", Code.TASK_CONFLICT)
        for task in req.tasks:
            stamp = now()
            stored = msgspec.structs.replace(
                task,
                id=task.id or self.new_id("task"),
                created_at=stamp,
                modified_at=stamp,
                app_id=app.app_id,
                user_id=app.user_id,
                status=status(Code.TASK_IN_PROGRESS),
            )
            app.tasks[stored.id] = stored
            app.assignments[stored.id] = {}
            out.append(stored)
        return ok(t.MultiTaskResponse, tasks=out)

    def ListTasks(self, req: t.ListTasksRequest) -> t.MultiTaskResponse:
        """Tasks, newest first, filtered by ids, worker and reviewer user ids."""
        app = self.app(req.user_app_id)
        items = list(reversed(app.tasks.values()))
        if req.ids:
            wanted = set(req.ids)
            items = [x for x in items if x.id in wanted]
        if req.worker_user_ids:
            workers = set(req.worker_user_ids)
            items = [x for x in items if x.worker and workers & set(x.worker.user_ids)]
        if req.review_user_ids:
            reviewers = set(req.review_user_ids)
            items = [x for x in items if x.review and reviewers & set(x.review.user_ids)]
        if req.label_order_ids:
            orders = set(req.label_order_ids)
            items = [x for x in items if x.label_order_id in orders]
        elif not req.including_label_order_tasks:
            items = [x for x in items if not x.label_order_id]
        return ok(t.MultiTaskResponse, tasks=page_of(items, req.page, req.per_page))

    def GetTask(self, req: t.GetTaskRequest) -> t.SingleTaskResponse:
        """One task, or 404 / 54102."""
        app = self.app(req.user_app_id)
        return ok(t.SingleTaskResponse, task=self._task(app, req.task_id))

    def PatchTasks(self, req: t.PatchTasksRequest) -> t.MultiTaskResponse:
        """Merge, overwrite or remove fields of tasks."""
        app = self.app(req.user_app_id)
        out = patch_each(app.tasks, req.tasks, partial(self._task, app), req.action)
        return ok(t.MultiTaskResponse, tasks=out)

    def DeleteTasks(self, req: t.DeleteTasksRequest) -> t.BaseResponse:
        """Delete tasks and their assignments."""
        app = self.app(req.user_app_id)
        delete_each(app.tasks, req.ids, partial(self._task, app))
        for task_id in req.ids:
            app.assignments.pop(task_id, None)
        return ok(t.BaseResponse)

    def ListNextTaskAssignments(
        self, req: t.ListNextTaskAssignmentsRequest, batch: int = 10
    ) -> t.MultiInputResponse:
        """The next inputs of a task for the fake's user, assigning new ones as needed."""
        app = self.app(req.user_app_id)
        self._task(app, req.task_id)
        assignments = app.assignments.setdefault(req.task_id, {})
        user = self.user_id
        mine = [
            a for a in assignments.values()
            if a.user_id == user and a.code == Code.TASK_ASSIGNMENT_PENDING
        ]  # fmt: skip
        for inp in app.inputs.values():
            if len(mine) >= batch:
                break
            if inp.id not in assignments:
                a = Assignment(input=inp, user_id=user, id=self.new_id("assignment"))
                assignments[inp.id] = a
                mine.append(a)
        return ok(t.MultiInputResponse, inputs=[a.input for a in mine[:batch]])

    def PutTaskAssignments(self, req: t.PutTaskAssignmentsRequest) -> t.MultiTaskAssignmentResponse:
        """Move an input through labelling and review (REVIEW_START: list those awaiting review)."""
        app = self.app(req.user_app_id)
        task = self._task(app, req.task_id)
        assignments = app.assignments.setdefault(req.task_id, {})
        action = req.action
        A = t.PutTaskAssignmentsRequestAction
        if action == A.REVIEW_START:
            waiting = [
                a for a in assignments.values() if a.code == Code.TASK_ASSIGNMENT_AWAITING_REVIEW
            ]
            return ok(t.MultiTaskAssignmentResponse, task_assignments=[_view(a) for a in waiting])
        if not req.input_id:
            raise invalid("input_id is required")
        a = assignments.get(req.input_id)
        if a is None:
            inp = app.inputs.get(req.input_id)
            if inp is None:
                raise not_found(Code.INPUT_DOES_NOT_EXIST, "Input", req.input_id)
            a = assignments[req.input_id] = Assignment(
                input=inp, user_id=self.user_id, id=self.new_id("assignment")
            )
        reviewed = task.review is not None and task.review.strategy in (2, 3)
        if action == A.LABEL_START:
            a.code, a.annotation_code = Code.TASK_ASSIGNMENT_PENDING, Code.ANNOTATION_PENDING
        elif action == A.LABEL_SUBMIT:
            if reviewed:
                a.code = Code.TASK_ASSIGNMENT_AWAITING_REVIEW
                a.annotation_code = Code.ANNOTATION_AWAITING_REVIEW
            else:
                a.code, a.annotation_code = Code.TASK_ASSIGNMENT_SUCCESS, Code.ANNOTATION_SUCCESS
        elif action == A.REVIEW_APPROVE:
            a.code, a.annotation_code = Code.TASK_ASSIGNMENT_SUCCESS, Code.ANNOTATION_SUCCESS
        elif action == A.REVIEW_REQUEST_CHANGES:
            a.code, a.annotation_code = Code.TASK_ASSIGNMENT_PENDING, Code.ANNOTATION_PENDING
        elif action == A.REVIEW_REJECT:
            a.code = Code.TASK_ASSIGNMENT_REJECTED
            a.annotation_code = Code.ANNOTATION_REVIEW_DENIED
        else:
            raise invalid(f"unknown action {action}")
        a.modified_at = now()
        return ok(t.MultiTaskAssignmentResponse, task_assignments=[_view(a)])

    def _counts(
        self, req: t.GetTaskCountRequest, *, annotations: bool
    ) -> t.SingleTaskCountResponse:
        app = self.app(req.user_app_id)
        self._task(app, req.task_id)
        per_user: dict[str, Counter[int]] = {}
        for a in app.assignments.get(req.task_id, {}).values():
            per_user.setdefault(a.user_id, Counter())[
                a.annotation_code if annotations else a.code
            ] += 1
        users = req.user_ids or sorted(per_user)
        # pending, awaiting review, success, review denied, awaiting consensus review
        if annotations:
            kinds = (Code.ANNOTATION_PENDING, Code.ANNOTATION_AWAITING_REVIEW,
                     Code.ANNOTATION_SUCCESS, Code.ANNOTATION_REVIEW_DENIED,
                     Code.ANNOTATION_AWAITING_CONSENSUS_REVIEW)  # fmt: skip
        else:
            kinds = (Code.TASK_ASSIGNMENT_PENDING, Code.TASK_ASSIGNMENT_AWAITING_REVIEW,
                     Code.TASK_ASSIGNMENT_SUCCESS, Code.TASK_ASSIGNMENT_REJECTED,
                     Code.TASK_ASSIGNMENT_AWAITING_CONSENSUS_REVIEW)  # fmt: skip
        counts = []
        for user in users:
            c = per_user.get(user, Counter())
            pending, awaiting, success, denied, consensus = (c[k] for k in kinds)
            counts.append(
                t.TaskStatusCountPerUser(
                    user_id=user,
                    pending=pending,
                    awaiting_review=awaiting,
                    success=success,
                    review_denied=denied,
                    awaiting_consensus_review=consensus,
                )
            )
        return ok(t.SingleTaskCountResponse, app_id=app.app_id, task_id=req.task_id, counts=counts)

    def GetTaskAnnotationCount(self, req: t.GetTaskCountRequest) -> t.SingleTaskCountResponse:
        """Per worker: annotations by status."""
        return self._counts(req, annotations=True)

    def GetTaskInputCount(self, req: t.GetTaskCountRequest) -> t.SingleTaskCountResponse:
        """Per worker: assigned inputs by status."""
        return self._counts(req, annotations=False)

    def GetInputSamples(self, req: t.GetInputSamplesRequest) -> t.MultiInputAnnotationResponse:
        """Inputs with the annotations workers made on them."""
        app = self.app(req.user_app_id)
        self._task(app, req.task_id)
        users = set(req.user_ids)
        hits = []
        for a in app.assignments.get(req.task_id, {}).values():
            if a.annotation_code == Code.ANNOTATION_PENDING or (users and a.user_id not in users):
                continue
            annotation = t.Annotation(
                id=f"{a.id}-annotation", input_id=a.input.id, user_id=a.user_id,
                task_id=req.task_id, status=status(a.annotation_code),
                created_at=a.created_at, modified_at=a.modified_at,
            )  # fmt: skip
            hits.append(
                t.Hit(input=a.input, annotation=annotation, user_id=a.user_id, app_id=app.app_id)
            )
        return ok(t.MultiInputAnnotationResponse, hits=hits)

    def PatchAnnotationsStatus(
        self, req: t.PatchAnnotationsStatusRequest
    ) -> t.PatchAnnotationsStatusResponse:
        """Overwrite the status of matching annotations; says how many changed."""
        app = self.app(req.user_app_id)
        self._task(app, req.task_id)
        if (req.action or "overwrite") != "overwrite":
            raise invalid(f"action must be 'overwrite', not {req.action!r}")
        if not req.status_code:
            raise invalid("status_code is required")
        users = set(req.user_ids)
        codes = set(req.status_codes)
        touched: set[str] = set()
        updated = 0
        for a in app.assignments.get(req.task_id, {}).values():
            if (users and a.user_id not in users) or (codes and a.annotation_code not in codes):
                continue
            a.annotation_code = req.status_code
            a.modified_at = now()
            touched.add(a.user_id)
            updated += 1
        return ok(t.PatchAnnotationsStatusResponse, user_ids=sorted(touched), updated_count=updated)


def _view(a: Assignment) -> t.TaskAssignment:
    return t.TaskAssignment(
        id=a.id,
        created_at=a.created_at,
        modified_at=a.modified_at,
        worker=t.Worker(user=t.User(id=a.user_id)),
        input=a.input,
        status=status(a.code),
    )
