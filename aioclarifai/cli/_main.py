"""The ``aioclarifai`` command line (also ``python -m aioclarifai``).

Subcommands: ``predict``, ``batch``, ``ingest``, ``generate``, ``fake-server`` and ``demo``
(run ``aioclarifai COMMAND --help``). Connection settings come from flags,
then the environment: ``CLARIFAI_PAT``, ``CLARIFAI_USER_ID``,
``CLARIFAI_APP_ID``, ``CLARIFAI_API_BASE``. A MODEL is a model id in that app,
``USER/APP/MODEL``, ``USER/APP/models/MODEL[/versions/VERSION]`` or a
``https://clarifai.com/USER/APP/models/MODEL[/versions/VERSION]`` URL
(see :mod:`aioclarifai.cli._models`).

Exit codes: 0 done; 1 an API error, or some inputs of a batch failed;
2 a usage or configuration error; 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import math
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from .._errors import ClarifaiError
from ._inputs import KINDS
from ._models import ModelRef, parse_model

if TYPE_CHECKING:
    from .. import types
    from .._client import Client
    from ._batch import BatchStats

__all__ = ["ModelRef", "main", "parse_model"]

_PROG = "aioclarifai"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_RATE = 15.0
"""Requests per second of a Clarifai account by default (``--dry-run``'s estimate)."""


class UsageError(Exception):
    """A configuration or usage problem, reported as one line with exit code 2."""


# -- configuration -------------------------------------------------------------------


def _connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection (flags win over the environment)")
    group.add_argument("--pat", help="personal access token (default: $CLARIFAI_PAT)")
    group.add_argument("--user-id", help="user id (default: $CLARIFAI_USER_ID, else 'me')")
    group.add_argument("--app-id", help="app id (default: $CLARIFAI_APP_ID)")
    group.add_argument(
        "--base-url", help="API base URL (default: $CLARIFAI_API_BASE, else api.clarifai.com)"
    )


def _resolve(args: argparse.Namespace, model: ModelRef | None) -> dict[str, Any]:
    """Client keyword arguments from flags, then the environment; UsageError when incomplete."""
    env = os.environ
    pat = args.pat or env.get("CLARIFAI_PAT")
    if not pat:
        raise UsageError("no PAT: set CLARIFAI_PAT or pass --pat")
    app_id = (model.app_id if model else None) or args.app_id or env.get("CLARIFAI_APP_ID")
    if not app_id:
        raise UsageError(
            "no app: set CLARIFAI_APP_ID, pass --app-id, or name the model as USER/APP/MODEL"
        )
    user_id = (model.user_id if model else None) or args.user_id or env.get("CLARIFAI_USER_ID")
    return {
        "pat": pat,
        "app_id": app_id,
        "user_id": user_id or None,
        "base_url": args.base_url or env.get("CLARIFAI_API_BASE") or None,
    }


def _make_client(settings: dict[str, Any], **options: Any) -> Client:
    from .._client import Client

    return Client(**settings, **options)


# -- running coroutines with Ctrl-C ----------------------------------------------------


def _run(coro_fn: Callable[[], Awaitable[int]]) -> int:
    """Run ``coro_fn()``; a Ctrl-C that reaches here (outside ``batch``) exits 130 quietly."""

    async def runner() -> int:
        return await coro_fn()

    try:
        return asyncio.run(runner())
    except KeyboardInterrupt:
        print(f"{_PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


@contextlib.contextmanager
def _graceful_interrupt(stop: asyncio.Event, job: asyncio.Task[Any], err: TextIO) -> Any:
    """First Ctrl-C (or SIGTERM) sets ``stop``; the second cancels ``job``."""
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if not stop.is_set():
            stop.set()
            print(
                f"\n{_PROG}: stopping: finishing the inputs in flight (Ctrl-C again to stop now)",
                file=err,
                flush=True,
            )
        else:
            job.cancel()

    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or a platform without loop signal handlers
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


# -- predict ---------------------------------------------------------------------------


def _model(args: argparse.Namespace) -> ModelRef:
    """MODEL with ``--version`` folded in (``UsageError`` when they disagree)."""
    model = parse_model(args.model)
    if args.version and model.version_id and args.version != model.version_id:
        raise UsageError(
            f"MODEL names version {model.version_id} but --version says {args.version}"
        )
    if args.version:
        model = dataclasses.replace(model, version_id=args.version)
    return model


def _model_settings(args: argparse.Namespace) -> types.Model | None:
    """``-p`` parameters and output settings as the request's ``Model`` (None if none)."""
    from ._inputs import model_settings, parse_params

    select = getattr(args, "select_concepts", None)
    try:
        return model_settings(
            params=parse_params(getattr(args, "param", [])),
            min_value=getattr(args, "min_value", None),
            max_concepts=getattr(args, "max_concepts", None),
            select_concepts=select.split(",") if select else None,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _input_from_args(args: argparse.Namespace) -> types.Input:
    from .. import types
    from ._inputs import data_for, guess_kind

    kind = args.type
    if args.text is not None:
        if kind not in (None, "text"):
            raise UsageError(f"--text sends a text; it cannot be --type {kind}")
        return types.Input(data=data_for("text", text=args.text))
    if args.url is not None:
        return types.Input(data=data_for(kind or guess_kind(args.url) or "image", url=args.url))
    try:
        with open(args.file, "rb") as f:
            content = f.read()
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
    return types.Input(data=data_for(kind or guess_kind(args.file) or "image", content=content))


def format_output(output: types.Output, *, top: int = 20) -> str:
    """An output as people read it: a concept table, the text, or JSON for anything else."""
    import msgspec

    from ._render import output_text, top_concepts

    data = output.data
    if data is not None and data.concepts:
        concepts = top_concepts(output, top)
        width = max(len("concept"), *(len(c.name or c.id) for c in concepts))
        rows = [f"{'concept':<{width}}  value", f"{'-' * width}  ------"]
        rows += [f"{(c.name or c.id):<{width}}  {c.value:.4f}" for c in concepts]
        if len(data.concepts) > top:
            rows.append(f"… {len(data.concepts) - top} more (--top N or --json shows them)")
        return "\n".join(rows)
    text = output_text(output)
    if text is not None:
        return text
    return msgspec.json.format(msgspec.json.encode(data), indent=2).decode()


async def _predict(args: argparse.Namespace) -> int:
    import msgspec

    model = _model(args)
    settings = _resolve(args, model)
    if args.top < 1:
        raise UsageError("--top must be at least 1")
    inp = _input_from_args(args)
    options = _model_settings(args)
    async with _make_client(settings, batching=False) as client:
        output = await client.predict(
            model.model_id, inp, version_id=model.version_id, model=options
        )
    if args.json:
        print(msgspec.json.format(msgspec.json.encode(output), indent=2).decode())
    else:
        print(format_output(output, top=args.top))
    return EXIT_OK


# -- batch -----------------------------------------------------------------------------


def format_summary(stats: BatchStats, output_path: str, output_format: str = "jsonl") -> str:
    """The lines printed when a batch job ends."""
    where = "stdout" if output_path == "-" else output_path
    if not stats.done and stats.skipped and not stats.interrupted:
        return (
            f"nothing to do: all {stats.skipped:,} inputs are already in {where} "
            "(delete it to start over)"
        )
    lines = []
    verb = "stopped" if stats.interrupted else "done"
    head = f"{verb}: {stats.done:,} inputs in {stats.elapsed:.1f} s ({stats.rate:,.0f} inputs/s)"
    lines.append(head)
    ok = stats.done - stats.errors
    detail = f"  {ok:,} succeeded, {stats.errors:,} failed"
    if stats.malformed:
        detail += f" ({stats.malformed:,} unreadable input lines)"
    if stats.skipped:
        detail += f", {stats.skipped:,} already in the output (skipped)"
    lines.append(detail)
    rate = _rate_line(stats)
    if rate:
        lines.append(rate)
    lines.append(f"  results: {where}")
    if stats.errors and output_path != "-":
        if output_format == "jsonl":
            lines.append(f'  failed inputs have an "error" field: grep \'"error"\' {output_path}')
        else:
            lines.append('  failed inputs have status "error" and an error_message')
    if stats.interrupted:
        left = "" if stats.remaining is None else f"{stats.remaining:,} inputs left: "
        lines.append(f"  {left}rerun the same command with --resume to finish")
    return "\n".join(lines)


def _rate_line(stats: BatchStats) -> str:
    """Throttling, the rate settled on, and inputs/s against what that rate allows."""
    if not stats.requests:
        return ""
    share = stats.throttled / stats.requests
    line = f"  requests: {stats.requests:,}, {stats.throttled:,} throttled ({share:.1%}, retried)"
    rate = stats.settled_rate if stats.settled_rate is not None else stats.limit
    if rate is None:
        return line + "; no rate limit met"
    how = "settled at" if stats.settled_rate is not None else "limited to"
    per_request = stats.inputs_per_request
    allowed = rate * per_request
    return (
        f"{line}; {how} {rate:,.1f} req/s: {stats.rate:,.0f} inputs/s of "
        f"{allowed:,.0f} allowed ({rate:,.1f} req/s x {per_request} inputs/request, "
        f"{stats.rate / allowed:.0%})"
    )


def _batch_exit_code(stats: BatchStats) -> int:
    if stats.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if stats.errors else EXIT_OK


def _summary_stream(args: argparse.Namespace) -> TextIO:
    # With results on stdout, everything else goes to stderr.
    return sys.stderr if args.output == "-" else sys.stdout


async def _run_batch_job(
    client: Client,
    model: ModelRef,
    args: argparse.Namespace,
    *,
    progress: TextIO | None,
) -> BatchStats:
    """Run the job as its own task so that Ctrl-C can stop it in two steps."""
    from . import _writers
    from ._batch import run_batch

    stop = asyncio.Event()
    common: dict[str, Any] = {
        "fmt": args.format,
        "output_format": args.output_format,
        "top": args.top,
        "resume": args.resume,
        "redo": _writers.is_failure
        if getattr(args, "retry_failed", False)
        else _writers.is_transient,
        "max_error_rate": getattr(args, "max_error_rate", None),
        "stop": stop,
        "progress_stream": progress,
        "freeze_gc": True,  # this process is the job: keep start-up out of full GC passes
    }
    if args.command == "ingest" or args.workflow:
        from ._batch import run_job

        send = _chunked_send(client, model, args)
        job = asyncio.create_task(run_job(send, args.inputs, args.output, **common))
    else:
        job = asyncio.create_task(
            run_batch(
                client,
                model.model_id,
                args.inputs,
                args.output,
                version_id=model.version_id,
                model=_model_settings(args),
                concurrency=args.concurrency,
                **common,
            )
        )
    with _graceful_interrupt(stop, job, sys.stderr):
        return await job


def _chunk_size(args: argparse.Namespace) -> int:
    """Inputs per request: --batch-size, else the operation's cap (128 predict/ingest, 32
    workflow)."""
    from .._chunked import MAX_INPUTS_PER_ADD, MAX_INPUTS_PER_WORKFLOW

    if args.batch_size is not None:
        return int(args.batch_size)
    if getattr(args, "workflow", None):
        return MAX_INPUTS_PER_WORKFLOW
    return MAX_INPUTS_PER_ADD if args.command == "ingest" else 128


def _chunked_send(client: Client, target: ModelRef, args: argparse.Namespace) -> Any:
    """``ingest`` (PostInputs) or ``batch --workflow`` (PostWorkflowResults) over a job's inputs."""
    from .._chunked import add_inputs, workflow_results

    size = _chunk_size(args)
    # --concurrency counts inputs in flight, as for predictions.
    requests = max(1, args.concurrency // size)
    if args.command == "ingest":
        return lambda source: add_inputs(client, source, batch_size=size, concurrency=requests)
    settings = _model_settings(args)
    info = settings.model_version.output_info if settings and settings.model_version else None
    config = info.output_config if info else None
    return lambda source: workflow_results(
        client, target.model_id, source, version_id=target.version_id, output_config=config,
        batch_size=size, concurrency=requests,
    )  # fmt: skip


def _target(args: argparse.Namespace) -> ModelRef:
    """The model or workflow of ``batch``; for ``ingest``, none (only the app)."""
    from ._models import parse_workflow

    if args.command == "ingest":
        return ModelRef("")
    if args.workflow:
        if args.inputs is not None:
            raise UsageError("batch --workflow WORKFLOW takes INPUTS only, not a MODEL too")
        args.inputs, args.model = args.model, None
        if args.param:
            raise UsageError(
                "-p does not apply to a workflow (its models' parameters are in the workflow)"
            )
        ref = parse_workflow(args.workflow)
        if args.version and ref.version_id and args.version != ref.version_id:
            raise UsageError(
                f"WORKFLOW names version {ref.version_id} but --version says {args.version}"
            )
        return dataclasses.replace(ref, version_id=args.version or ref.version_id)
    if args.inputs is None:
        raise UsageError("batch needs MODEL and INPUTS (or --workflow WORKFLOW and INPUTS)")
    return _model(args)


async def _batch(args: argparse.Namespace) -> int:
    from ._batch import BatchAborted

    model = _target(args)
    settings = _resolve(args, model if model.model_id else None)
    _check_batch_args(args)
    if args.dry_run:
        return _dry_run(args)
    options: dict[str, Any] = {"rate_limit": getattr(args, "rate", None)}
    if getattr(args, "max_retries", None) is not None:
        options["max_retries"] = args.max_retries
    if args.batch_size is not None and args.command == "batch" and not args.workflow:
        from .._batching import BatchConfig

        options["batching"] = BatchConfig(max_batch_size=args.batch_size)
    progress = None if args.quiet else sys.stderr
    summary = _summary_stream(args)
    async with _make_client(settings, **options) as client:
        try:
            stats = await _run_batch_job(client, model, args, progress=progress)
        except BatchAborted as exc:
            print(f"{_PROG}: error: {exc.error}", file=sys.stderr)
            print(format_summary(exc.stats, args.output, args.output_format), file=summary)
            return EXIT_FAILED
        except asyncio.CancelledError:
            # A second Ctrl-C: do not wait for the requests in flight. Cancelling the
            # client's close withdraws them; the ``async with`` then closes the pool.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(client.aclose(), 0.1)
            print(
                f"{_PROG}: stopped; finished results are in {args.output}; "
                "rerun with --resume to finish",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
    print(format_summary(stats, args.output, args.output_format), file=summary)
    return _batch_exit_code(stats)


def _batch_on_ray(args: argparse.Namespace) -> int:
    """``batch --engine ray``: the same job on Ray Data (see :mod:`aioclarifai.cli._ray`)."""
    if args.workflow:
        raise UsageError("--engine ray runs model predictions; run --workflow on one machine")
    model = _target(args)
    settings = _resolve(args, model)
    _check_batch_args(args)
    if args.dry_run:
        return _dry_run(args)
    if args.actors < 1:
        raise UsageError("--actors must be at least 1")
    if args.inputs == "-":
        raise UsageError(
            "--engine ray cannot read stdin (its workers read the input): "
            "save it to a file or an object store first"
        )
    try:
        from ._ray import run_batch_on_ray
    except ImportError as exc:
        raise UsageError(
            f"--engine ray needs Ray Data: pip install 'aioclarifai[ray]' ({exc})"
        ) from None
    from ._batch import BatchAborted

    if args.batch_size is not None:
        settings["max_batch_size"] = args.batch_size
    summary = _summary_stream(args)
    try:
        stats = run_batch_on_ray(
            model.model_id,
            args.inputs,
            args.output,
            client_args=settings,
            fmt=args.format,
            output_format=args.output_format,
            top=args.top,
            version_id=model.version_id,
            model=_model_settings(args),
            actors=args.actors,
            requests_per_second=args.rate,
            resume=args.resume,
            address=args.address,
            progress_stream=None if args.quiet else sys.stderr,
        )
    except BatchAborted as exc:
        print(f"{_PROG}: error: {exc.error}", file=sys.stderr)
        print(format_summary(exc.stats, args.output, args.output_format), file=summary)
        return EXIT_FAILED
    print(format_summary(stats, args.output, args.output_format), file=summary)
    return _batch_exit_code(stats)


def _check_batch_args(args: argparse.Namespace) -> None:
    """Every check that needs no prediction: paths, formats, numbers (``UsageError``)."""
    from . import _storage, _writers

    if args.output_format is None:
        args.output_format = _writers.detect_output_format(args.output)
    try:
        _storage.check_input(args.inputs)
        if not args.dry_run:
            _storage.check_output(args.output)
    except _storage.StorageError as exc:
        raise UsageError(str(exc)) from None
    if args.inputs != "-" and args.inputs == args.output:
        raise UsageError("INPUTS and OUTPUT must be different files")
    if _storage.is_local(args.inputs) and _storage.is_local(args.output):
        same = os.path.abspath(_storage.local_path(args.inputs)) == os.path.abspath(
            _storage.local_path(args.output)
        )
        if same:
            raise UsageError("INPUTS and OUTPUT must be different files")
    if args.resume and args.output == "-":
        raise UsageError("--resume needs an OUTPUT file to read back, not stdout")
    if not args.resume and not args.dry_run and _storage.exists(args.output):
        raise UsageError(
            f"{args.output} exists: pass --resume to continue that job, or remove the file"
        )
    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if getattr(args, "retry_failed", False) and not args.resume:
        raise UsageError("--retry-failed re-runs the failed inputs of OUTPUT: add --resume")
    if getattr(args, "max_retries", None) is not None and args.max_retries < 0:
        raise UsageError("--max-retries must be at least 0")
    max_error_rate = getattr(args, "max_error_rate", None)
    if max_error_rate is not None and not 0 <= max_error_rate < 1:
        raise UsageError("--max-error-rate must be a fraction from 0 to 1 (0.05 is 5%)")
    cap = 32 if getattr(args, "workflow", None) else 128
    if args.batch_size is not None and not 1 <= args.batch_size <= cap:
        raise UsageError(f"--batch-size must be between 1 and {cap} (Clarifai's limit)")
    if args.top < 1:
        raise UsageError("--top must be at least 1")
    if args.output_format == "parquet":
        from ._writers import parquet_schema

        try:
            parquet_schema(1)  # pyarrow is there
        except _storage.StorageError as exc:
            raise UsageError(str(exc)) from None
    _model_settings(args)


def _dry_run(args: argparse.Namespace) -> int:
    """``batch --dry-run``: read and check every input; print the work it means; send nothing."""
    from ._batch import plan_batch

    try:
        plan = plan_batch(
            args.inputs,
            fmt=args.format,
            batch_size=_chunk_size(args),
            requests_per_second=getattr(args, "rate", None) or DEFAULT_RATE,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(plan.describe(), file=_summary_stream(args))
    return EXIT_FAILED if plan.invalid else EXIT_OK


# -- generate --------------------------------------------------------------------------


async def stream_text(
    client: Client,
    model: ModelRef,
    prompt: str,
    *,
    out: TextIO,
    settings: types.Model | None = None,
) -> int:
    """Print the generation's text deltas to ``out`` as they arrive; returns the delta count."""
    deltas = 0
    async with client.generate(
        model.model_id, prompt, version_id=model.version_id, model=settings
    ) as stream:
        async for delta in stream:
            deltas += 1
            out.write(delta)
            out.flush()
    return deltas


async def _generate(args: argparse.Namespace) -> int:
    model = _model(args)
    settings = _resolve(args, model)
    options = _model_settings(args)
    async with _make_client(settings) as client:
        await stream_text(client, model, args.prompt, out=sys.stdout, settings=options)
    print()
    return EXIT_OK


# -- fake-server -----------------------------------------------------------------------


def _fake_server(args: argparse.Namespace) -> int:
    from ..testing import serve

    if args.port:
        # Printed first: ``serve`` blocks, announcing its URL once it listens.
        print(
            f"Try it: CLARIFAI_API_BASE=http://{args.host}:{args.port} "
            f"CLARIFAI_PAT={args.pat} CLARIFAI_APP_ID=my-app "
            f"{_PROG} predict general-image-recognition --text hello   (Ctrl-C stops the server)",
            file=sys.stderr,
            flush=True,
        )
    try:
        serve(
            args.host,
            args.port,
            args.pat,
            # Nobody reads the request log of a server in its own process.
            log_limit=0,
            generate_chunks=args.generate_chunks,
            generate_pace=args.generate_pace,
            rate_limit=args.rate_limit,
            retry_after=not args.no_retry_after,
        )
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise UsageError(f"cannot serve on {args.host}:{args.port}: {exc.strerror}") from None
    return EXIT_OK


# -- demo ------------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    return _run(lambda: run_demo(size=args.size, out=sys.stdout, err=sys.stderr))


# -- parser ----------------------------------------------------------------------------

_MODEL_HELP = "MODEL_ID, USER/APP/MODEL_ID, USER/APP/models/MODEL_ID[/versions/V] or a model URL"


def _inference_options(parser: argparse.ArgumentParser, *, concepts: bool) -> None:
    group = parser.add_argument_group("inference settings")
    group.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an inference parameter (temperature=0.2, max_tokens=100, ...); numbers, "
        "true/false and JSON are parsed; repeatable",
    )
    if concepts:
        group.add_argument(
            "--min-value", type=float, metavar="X", help="only concepts scoring at least X (0-1)"
        )
        group.add_argument(
            "--max-concepts", type=int, metavar="N", help="at most N concepts per output"
        )
        group.add_argument(
            "--select-concepts",
            metavar="A,B",
            help="only these concepts (names; id:ID for an id), comma-separated",
        )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``aioclarifai`` argument parser."""
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="Clarifai from the command line: predictions, batch jobs, generations.",
        epilog="New here? Run `aioclarifai demo`: a batch job and a streamed generation "
        "against the bundled FakeClarifai, no account needed.",
    )
    from .._version import __version__

    parser.add_argument("--version", action="version", version=f"{_PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("predict", help="predict one input and print concepts or text")
    p.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    p.add_argument("--version", dest="version", metavar="V", help="model version id")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", metavar="T", help="a text input")
    what.add_argument("--url", metavar="U", help="a URL of an image, video, audio or text")
    what.add_argument("--file", metavar="F", help="a local file (image, text, video or audio)")
    p.add_argument(
        "--type",
        choices=KINDS,
        help="what --url or --file holds (default: by its extension, else image)",
    )
    p.add_argument("--json", action="store_true", help="print the whole Output as JSON")
    p.add_argument("--top", type=int, default=20, help="concepts shown (default 20)")
    _inference_options(p, concepts=True)
    _connection_options(p)
    p.set_defaults(handler=lambda a: _run(lambda: _predict(a)))

    b = sub.add_parser(
        "batch",
        help="predict every input of a file, writing JSONL, CSV or Parquet results (resumable)",
        description="Predict every input of INPUTS with MODEL and write one record per "
        'input to OUTPUT: JSONL {"id": ..., "output": {...}} or {"id": ..., "error": {...}}, '
        "or flat CSV/Parquet columns (id, status, concept_N/value_N, text, error_*). "
        'INPUTS is JSONL ({"id", "type", "text"|"url"|"base64"} or a full Input per line), '
        "CSV (columns among id, type, text, url, base64) or text (one URL or text per line). "
        "Inputs without an id get line-<N>. INPUTS and OUTPUT may be local paths, - "
        "(stdin/stdout) or URLs: http(s):// to read; s3://, gs://, az:// with the 'storage' "
        "extra and s3fs/gcsfs/adlfs. Ctrl-C stops cleanly; --resume continues.",
    )
    b.add_argument("model", metavar="MODEL", help=f"{_MODEL_HELP} (none with --workflow)")
    b.add_argument(
        "inputs", metavar="INPUTS", nargs="?", help="input file or URL (.jsonl, .csv, text; -)"
    )
    b.add_argument(
        "--workflow",
        metavar="WORKFLOW",
        help="run this workflow instead of a model (PostWorkflowResults, 32 inputs a request); "
        "one record per input with every node's output",
    )
    b.add_argument(
        "-o", "--output", required=True, metavar="OUTPUT", help="results file or URL (-: stdout)"
    )
    b.add_argument(
        "--output-format",
        choices=("jsonl", "csv", "parquet"),
        help="results format (default: by extension; .csv, .parquet, else JSONL)",
    )
    b.add_argument(
        "--top", type=int, default=5, metavar="N", help="concept columns in CSV/Parquet (5)"
    )
    b.add_argument(
        "--dry-run",
        action="store_true",
        help="read and check every input; print the inputs, requests and minimum time; send "
        "nothing",
    )
    b.add_argument("--version", dest="version", metavar="V", help="model version id")
    b.add_argument(
        "--concurrency", type=int, default=4096, metavar="N",
        help="inputs in flight (default 4096: 32 requests of 128)",
    )  # fmt: skip
    b.add_argument(
        "--batch-size", type=int, metavar="N", help="inputs per request, 1-128 (default 128)"
    )
    b.add_argument(
        "--resume", action="store_true",
        help="skip inputs already in OUTPUT; run again those whose error was transient "
        "(throttled, unavailable, timed out)",
    )  # fmt: skip
    b.add_argument(
        "--retry-failed", action="store_true",
        help="with --resume: run again every failed input (one final record per id stays)",
    )  # fmt: skip
    b.add_argument(
        "--max-retries", type=int, metavar="N",
        help="retries of a failed request (default 2; throttling is retried until the "
        "call's deadline and not counted)",
    )  # fmt: skip
    b.add_argument(
        "--max-error-rate", type=float, metavar="F",
        help="stop once more than this share of the recorded inputs failed (after 100)",
    )  # fmt: skip
    b.add_argument(
        "--format",
        choices=("jsonl", "csv", "text"),
        help="input format (default: by extension; text for -)",
    )
    b.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    b.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="run here (default) or on Ray Data (needs the 'ray' extra)",
    )
    b.add_argument("--address", metavar="ADDR", help="Ray cluster address (--engine ray)")
    b.add_argument(
        "--actors", type=int, default=2, metavar="N", help="Ray actors, one client each (default 2)"
    )
    b.add_argument(
        "--rate", type=_positive_float, metavar="R",
        help="the account's limit in requests/s, if known (shared by all Ray actors); "
        "by default it is learned from throttling answers",
    )  # fmt: skip
    _inference_options(b, concepts=True)
    _connection_options(b)
    b.set_defaults(
        handler=lambda a: _batch_on_ray(a) if a.engine == "ray" else _run(lambda: _batch(a))
    )

    i = sub.add_parser(
        "ingest",
        help="add a file's inputs to the app (PostInputs, 128 a request; resumable)",
        description="Add every input of INPUTS to the app, with its id, metadata, concepts "
        "and dataset_id from the file (the same formats as batch), writing one record per "
        'input to OUTPUT: {"id": ..., "input": {...}} or {"id": ..., "error": {...}}. '
        "Inputs without an id get line-<N>, which becomes their id in the app. Ctrl-C stops "
        "cleanly; --resume continues.",
    )
    i.add_argument("inputs", metavar="INPUTS", help="input file or URL (.jsonl, .csv, text; -)")
    i.add_argument(
        "-o", "--output", required=True, metavar="OUTPUT", help="records file or URL (-: stdout)"
    )
    i.add_argument("--output-format", choices=("jsonl", "csv", "parquet"), help="records format")
    i.add_argument(
        "--concurrency", type=int, default=512, metavar="N", help="inputs in flight (default 512)"
    )
    i.add_argument(
        "--batch-size", type=int, metavar="N", help="inputs per request, 1-128 (default 128)"
    )
    i.add_argument("--resume", action="store_true", help="skip inputs already in OUTPUT")
    i.add_argument(
        "--format",
        choices=("jsonl", "csv", "text"),
        help="input format (default: by extension; text for -)",
    )
    i.add_argument(
        "--dry-run", action="store_true", help="read and check every input; send nothing"
    )
    i.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    _connection_options(i)
    i.set_defaults(handler=lambda a: _run(lambda: _batch(a)), top=5, workflow=None)

    g = sub.add_parser("generate", help="stream a generation, printing text as it arrives")
    g.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    g.add_argument("prompt", metavar="PROMPT")
    g.add_argument("--version", dest="version", metavar="V", help="model version id")
    _inference_options(g, concepts=False)
    _connection_options(g)
    g.set_defaults(handler=lambda a: _run(lambda: _generate(a)))

    f = sub.add_parser("fake-server", help="serve FakeClarifai (an in-memory Clarifai) over HTTP")
    f.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks one)")
    f.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    f.add_argument("--pat", default="test-pat", help="the PAT it accepts (default test-pat)")
    f.add_argument(
        "--generate-chunks", type=int, default=8, help="chunks per streamed generation (8)"
    )
    f.add_argument(
        "--generate-pace", type=float, default=0.0, help="seconds between streamed chunks (0)"
    )
    f.add_argument(
        "--rate-limit", type=_positive_float, metavar="R",
        help="account limit: requests/s per PAT, beyond it 429 / 11005 (default: none)",
    )  # fmt: skip
    f.add_argument(
        "--no-retry-after", action="store_true", help="throttle without sending Retry-After"
    )
    f.set_defaults(handler=_fake_server)

    d = sub.add_parser(
        "demo", help="a 20,000-input batch job and a streamed generation on FakeClarifai"
    )
    d.add_argument("--size", type=int, default=20_000, help=argparse.SUPPRESS)
    d.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except UsageError as exc:
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ClarifaiError as exc:
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as exc:
        # The client's early checks (an empty model id, a bad CSV header, ...).
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        # Files that cannot be read or written (permissions, a full disk, ...).
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
