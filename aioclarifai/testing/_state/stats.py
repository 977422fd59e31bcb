"""Stat values, their aggregates and trending metrics views."""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable

import msgspec

from ... import types as t
from ._app import StateBase
from ._common import (
    Code,
    invalid,
    now,
    ok,
    page_of,
)

_UTC = datetime.timezone.utc


class StatsArea(StateBase):
    """Stat values, their aggregates and trending metrics views."""

    def PostStatValues(self, req: t.PostStatValuesRequest) -> t.MultiStatValueResponse:
        """Store stat values (``time`` defaults to now)."""
        app = self.app(req.user_app_id)
        stamp = now()
        stored = [msgspec.structs.replace(v, time=v.time or stamp) for v in req.stat_values]
        app.stat_values.extend(stored)
        return ok(t.MultiStatValueResponse, stat_values=stored)

    def PostStatValuesAggregate(
        self, req: t.PostStatValuesAggregateRequest
    ) -> t.MultiStatValueAggregateResponse:
        """Aggregate the stored values, one result per query (see :func:`aggregate`)."""
        app = self.app(req.user_app_id)
        results = [
            t.StatValueAggregateResult(
                stat_value_aggregates=aggregate(app.stat_values, q),
                stat_value_aggregate_query=q,
            )
            for q in req.stat_value_aggregate_queries
        ]
        return ok(t.MultiStatValueAggregateResponse, stat_value_aggregate_results=results)

    def PostTrendingMetricsView(self, req: t.PostTrendingMetricsViewRequest) -> t.BaseResponse:
        """Count one view of an object."""
        app = self.app(req.user_app_id)
        app.trending.setdefault(req.view_type, Counter())[req.object_id] += 1
        return ok(t.BaseResponse)

    def ListTrendingMetricsViews(
        self, req: t.ListTrendingMetricsViewsRequest
    ) -> t.MultiTrendingMetricsViewResponse:
        """Objects of a view type, most viewed first."""
        app = self.app(req.user_app_id)
        views = app.trending.get(req.view_type, Counter())
        ordered = sorted(views.items(), key=lambda kv: (-kv[1], kv[0]))
        metrics = [
            t.TrendingMetric(user_id=app.user_id, app_id=app.app_id, object_id=k, view_count=n)
            for k, n in ordered
        ]
        return ok(
            t.MultiTrendingMetricsViewResponse, metrics=page_of(metrics, req.page, req.per_page)
        )


# -- aggregates --------------------------------------------------------------------------------


def _bucket(when: datetime.datetime, kind: int) -> datetime.datetime | None:
    T = t.StatTimeAggType
    when = when.astimezone(_UTC)
    if kind == T.NO_TIME_AGG:
        return None
    if kind == T.YEAR:
        return when.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if kind == T.MONTH:
        return when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if kind == T.WEEK:
        day = when.replace(hour=0, minute=0, second=0, microsecond=0)
        return day - datetime.timedelta(days=day.weekday())
    if kind == T.DAY:
        return when.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == T.HOUR:
        return when.replace(minute=0, second=0, microsecond=0)
    if kind == T.MINUTE:
        return when.replace(second=0, microsecond=0)
    raise invalid(f"unknown stat_time_agg_type {kind}", Code.STATS_INVALID_REQUEST)


def aggregate(
    values: Iterable[t.StatValue], q: t.StatValueAggregateQuery
) -> list[t.StatValueAggregate]:
    """SUM or AVG of the stat values matching ``q``'s tags and time range.

    Values must carry every tag of ``q.tags``. Each tag group (a prefix such as
    ``"model"``, matching tags ``"model:…"``) splits the results by the value's
    tags in that group; ``stat_time_agg_type`` splits them by time bucket.
    """
    if q.stat_value_agg_type not in (t.StatValueAggType.SUM, t.StatValueAggType.AVG):
        raise invalid(
            f"unknown stat_value_agg_type {q.stat_value_agg_type}", Code.STATS_INVALID_REQUEST
        )
    wanted = set(q.tags)
    prefixes = [g if g.endswith(":") else f"{g}:" for g in q.tag_groups]
    groups: dict[tuple[datetime.datetime | None, tuple[str, ...]], list[float]] = {}
    for v in values:
        when = v.time
        if when is None:
            continue
        if (q.start_time and when < q.start_time) or (q.end_time and when >= q.end_time):
            continue
        if not wanted.issubset(v.tags):
            continue
        group_tags = tuple(
            sorted(tag for tag in v.tags if any(tag.startswith(p) for p in prefixes))
        )
        if prefixes and not group_tags:
            continue
        key = (_bucket(when, q.stat_time_agg_type), group_tags)
        groups.setdefault(key, []).append(v.value)
    out = []
    epoch = datetime.datetime.min.replace(tzinfo=_UTC)
    for (bucket, group_tags), vals in sorted(
        groups.items(), key=lambda kv: (kv[0][0] or epoch, kv[0][1])
    ):
        total = sum(vals)
        value = total if q.stat_value_agg_type == t.StatValueAggType.SUM else total / len(vals)
        out.append(
            t.StatValueAggregate(
                time=bucket,
                aggregate_value=value,
                count=len(vals),
                tags=sorted(wanted) + list(group_tags),
            )
        )
    return out
