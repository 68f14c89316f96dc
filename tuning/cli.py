"""`python -m tuning …`: commands over the service layer."""

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, get_args

from pydantic import ValidationError

from tuning import service
from tuning.cli_errors import exit_on_error
from tuning.config import Settings, get_settings
from tuning.db import session_scope, upgrade_database
from tuning.domain import RunStatus
from tuning.models import TuningRun
from tuning.retrying import ConnectionLost, retry_on_lost_connection
from tuning.runtime import Runtime, create_runtime
from tuning.schemas import ColumnRoles, HalvingOptions, SearchKind, TuningRunCreate, TuningStatus

# `--wait` reads the status this often: one indexed read and a Redis GET, so a waiting user
# learns of the end within a fifth of a second (on average a tenth) at little cost.
POLL_SECONDS = 0.2


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    data_dir = Settings.model_fields["data_dir"].get_default()
    try:
        settings = get_settings()
        data_dir = settings.data_dir
        return args.command(args, settings)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - each is said in words
        # One line of words and an exit code, whatever went wrong: never a raw traceback.
        return exit_on_error(exc, data_dir=data_dir, debug=args.debug)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tuning", description=__doc__)
    parser.add_argument(
        "--debug", action="store_true", help="On an unexpected error, print its traceback"
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, handler: Callable, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(command=handler)
        return sub

    command("run", cmd_run, "Start Redis, a worker, the API and the dashboard (make run)")
    worker = command("worker", cmd_worker, "Start a Celery worker")
    worker.add_argument("--concurrency", type=int, default=None, help="Worker processes")
    worker.add_argument("--loglevel", default="INFO")
    worker.add_argument(
        "--hostname", default=None, help="Node name, e.g. a@%%h, so that workers on one host differ"
    )
    command("migrate", cmd_migrate, "Apply database migrations")
    api = command("api", cmd_api, "Serve the REST API (uvicorn)")
    api.add_argument("--host", help="Default: API_HOST or 127.0.0.1")
    api.add_argument("--port", type=int, help="Default: API_PORT or 8000")
    api.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")

    users = command("users", _help_of(commands), "Manage users").add_subparsers(
        required=True, metavar="ACTION"
    )
    add = users.add_parser("add", help="Create a user and print a new API token, last")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="May see every user's runs")
    add.set_defaults(command=cmd_users_add)
    revoke = users.add_parser(
        "revoke", help="Stop a user's API token and end their dashboard sign-ins"
    )
    revoke.add_argument("name")
    revoke.set_defaults(command=cmd_users_revoke)
    token = users.add_parser("token", help="Print a new API token for a user; the old one stops")
    token.add_argument("name")
    token.set_defaults(command=cmd_users_token)

    tune = command("tune", cmd_tune, "Submit a tuning run")
    tune.add_argument("--dataset", required=True, help="iris, wine, breast_cancer, digits, ...")
    tune.add_argument("--estimator", required=True, help="A scikit-learn class name")
    tune.add_argument("--param-grid", required=True, help="JSON, e.g. '{\"max_depth\":[null,5]}'")
    tune.add_argument("--search", choices=list(get_args(SearchKind)), default="grid")
    tune.add_argument("--n-iter", type=int, help="Candidates (random and Bayesian search)")
    tune.add_argument(
        "--halving",
        help='Successive halving options as JSON, e.g. \'{"factor": 3, "candidates": "random"}\'',
    )
    tune.add_argument(
        "--stop-after-no-improvement",
        type=int,
        help="End after N candidates without a better score",
    )
    tune.add_argument("--time-budget", type=float, help="End after this many seconds")
    tune.add_argument(
        "--no-train-scores",
        action="store_true",
        help="Do not score the training folds (faster; no overfitting view)",
    )
    tune.add_argument("--random-state", type=int, help="Seed for sampling and estimators")
    tune.add_argument("--cv", type=int, default=5, help="CV folds (default 5)")
    tune.add_argument("--scoring", help="A scikit-learn scorer name (default by task)")
    tune.add_argument(
        "--ignore",
        action="append",
        metavar="COLUMN",
        help="Leave a column out of the features (repeat for more); given, it replaces the "
        "dataset profile's defaults (ID-like, constant and empty columns)",
    )
    tune.add_argument("--group", metavar="COLUMN", help="Keep rows with one value in one fold")
    tune.add_argument("--time", metavar="COLUMN", help="Folds train on earlier rows only")
    tune.add_argument(
        "--pos-label",
        help="The positive class of a two-class target (f1, precision, recall, "
        "average_precision), e.g. yes; read as the dataset's label type",
    )
    tune.add_argument(
        "--test-size",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="Keep this share of rows (0 to 0.5) out of tuning, to test the trained model on",
    )
    tune.add_argument("--name", help="A name for the run (at most 200 characters)")
    tune.add_argument(
        "--tag", action="append", metavar="TAG", help="Tag the run (repeat for more; lower-cased)"
    )
    tune.add_argument("--user", help="Owner of the run (default: the local admin)")
    tune.add_argument("--wait", action="store_true", help="Follow the run until it ends")

    status = command("status", cmd_status, "Print a run's status as JSON")
    status.add_argument("run_id")
    cancel = command("cancel", cmd_cancel, "Cancel a run")
    cancel.add_argument("run_id")
    runs = command("runs", cmd_runs, "List runs, newest first")
    runs.add_argument("--limit", type=int, default=20)
    share = command("share", cmd_share, "Share a run with a user, or with everyone signed in")
    share.add_argument("run_id")
    share.add_argument("user", help="A user's name, or 'everyone'")
    share.add_argument(
        "--level",
        choices=list(service.RUN_LEVELS),
        default="read",
        help="read: results, trials, notes and status; contribute: also notes and training",
    )
    unshare = command("unshare", cmd_unshare, "Withdraw a run's share with a user or everyone")
    unshare.add_argument("run_id")
    unshare.add_argument("user", help="A user's name, or 'everyone'")
    return parser


def _help_of(commands: argparse._SubParsersAction) -> Callable:
    return lambda args, settings: commands.choices["users"].print_help() or 2


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from tuning import supervisor

    return supervisor.main(settings)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from tuning.worker.app import create_celery

    argv = ["worker", f"--loglevel={args.loglevel}"]
    if args.concurrency:
        argv.append(f"--concurrency={args.concurrency}")
    if args.hostname:
        argv.append(f"--hostname={args.hostname}")
    create_celery(settings).worker_main(argv)
    return 0


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    host, port = args.host or settings.api_host, args.port or settings.api_port
    if args.workers > 1:
        uvicorn.run("tuning.api.main:app", host=host, port=port, workers=args.workers)
    else:
        from tuning.api.app import create_app

        uvicorn.run(create_app(create_runtime(settings)), host=host, port=port)
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    upgrade_database(settings)
    print(f"database is up to date: {settings.sqlalchemy_url}")
    return 0


def cmd_users_add(args: argparse.Namespace, settings: Settings) -> int:
    runtime = create_runtime(settings)
    with session_scope(runtime.engine) as session:
        user, token = service.create_user(session=session, name=args.name, is_admin=args.admin)
    role = "admin" if user.is_admin else "user"
    print(f"created {role} '{user.name}'; API token (shown once, keep it safe):")
    print(token)
    return 0


def cmd_users_revoke(args: argparse.Namespace, settings: Settings) -> int:
    runtime = create_runtime(settings)
    with session_scope(runtime.engine) as session:
        user = service.get_user(session=session, name=args.name)
        service.rotate_token(session=session, user=user)  # nobody is shown the new one
    print(f"revoked: '{user.name}' can no longer sign in; `users token` gives them a new token")
    return 0


def cmd_users_token(args: argparse.Namespace, settings: Settings) -> int:
    runtime = create_runtime(settings)
    with session_scope(runtime.engine) as session:
        user = service.get_user(session=session, name=args.name)
        token = service.rotate_token(session=session, user=user)
    print(f"a new API token for '{user.name}' (the old one and their sign-ins have ended):")
    print(token)
    return 0


def _tuning_run(args: argparse.Namespace, param_grid: object, halving: object) -> TuningRunCreate:
    return TuningRunCreate(
        dataset=args.dataset,
        estimator=args.estimator,
        param_grid=param_grid if isinstance(param_grid, dict) else {"": param_grid},
        search=args.search,
        n_iter=args.n_iter,
        cv=args.cv,
        scoring=args.scoring,
        pos_label=args.pos_label,
        random_state=args.random_state,
        halving=HalvingOptions.model_validate(halving) if halving is not None else None,
        stop_after_no_improvement=args.stop_after_no_improvement,
        time_budget_s=args.time_budget,
        return_train_score=not args.no_train_scores,
        columns=_columns(args),
        test_size=args.test_size,
        name=args.name,
        tags=args.tag,
    )


def _columns(args: argparse.Namespace) -> ColumnRoles | None:
    if args.ignore is None and args.group is None and args.time is None:
        return None  # the dataset profile's defaults
    return ColumnRoles(ignore=args.ignore, group=args.group, time=args.time)


def cmd_tune(args: argparse.Namespace, settings: Settings) -> int:
    try:
        param_grid = json.loads(args.param_grid)
        halving = json.loads(args.halving) if args.halving else None
    except json.JSONDecodeError as exc:
        print(f"error: --param-grid or --halving is not valid JSON: {exc}", file=sys.stderr)
        return 2
    try:
        run_in = _tuning_run(args, param_grid, halving)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False)
        )
        print(f"error: {problems}", file=sys.stderr)
        return 2
    runtime = create_runtime(settings)
    # One key for every attempt of this command: a retry after a lost connection is given the
    # first attempt's run, if it was stored, instead of storing a second.
    request = service.KeyedRequest(
        key=str(uuid.uuid4()),
        route="python -m tuning tune",
        body_hash=service.request_hash(run_in.model_dump_json().encode()),
    )
    try:
        run = retry_on_lost_connection(
            lambda: _submit(runtime, args.user, run_in, request),
            engine=runtime.engine,
            said=lambda words: print(f"warning: {words}", file=sys.stderr),
        )
    except ConnectionLost as exc:
        print(
            f"error: {exc}. The run may have been stored: see `python -m tuning runs`",
            file=sys.stderr,
        )
        return 3
    run_id, n_candidates = run["tuning_run_id"], run["total_combinations"]
    print(f"submitted tuning run {run_id} ({n_candidates} candidates)", file=sys.stderr)
    if not args.wait:
        print(run_id)
        return 0
    status = _follow(runtime, run_id)
    print(status.to_json())
    return _exit_code(status)


def _submit(
    runtime: Runtime, user: str | None, run_in: TuningRunCreate, request: service.KeyedRequest
) -> dict[str, Any]:
    """Submit once per key: the run's id and its number of candidates."""
    with session_scope(runtime.engine) as session:
        if user:
            owner = service.get_user(session=session, name=user)
        else:
            owner, _ = service.ensure_local_admin(session=session)
        answer = service.submit_run_once(
            session=session,
            queue=runtime.queue,
            settings=runtime.settings,
            owner=owner,
            run_in=run_in,
            request=request,
            answer=_submitted,
        )
    return json.loads(answer.body)


def _submitted(run: TuningRun) -> service.Answer:
    body = {"tuning_run_id": str(run.id), "total_combinations": run.total_combinations}
    return service.Answer(status_code=202, body=json.dumps(body))


def _follow(runtime: Runtime, run_id: str) -> TuningStatus:
    """Poll until the run ends, drawing a progress bar on stderr."""
    while True:
        with session_scope(runtime.engine) as session:
            status = service.get_status(
                session=session, queue=runtime.queue, run_id=run_id, settings=runtime.settings
            )
        if status.status is RunStatus.SUCCESS:
            assert status.result is not None, "a successful run has its result"
            _draw_bar(
                100.0, f"{status.status.value}: {status.result.total_combinations} candidates"
            )
        elif status.progress:
            _draw_bar(status.progress.percentage, status.progress.status)
        elif status.queue:
            place = status.queue
            _draw_bar(
                0.0, f"queued: {place.position} in line, starts in ~{place.expected_start_s:.0f} s"
            )
        if status.status.is_finished:
            print(file=sys.stderr)
            return status
        time.sleep(POLL_SECONDS)


def _draw_bar(percentage: float, message: str, width: int = 30) -> None:
    filled = int(width * percentage / 100)
    bar = "#" * filled + "-" * (width - filled)
    print(f"\r[{bar}] {percentage:6.2f}% {message}", end="", file=sys.stderr, flush=True)


def _exit_code(status: TuningStatus) -> int:
    if status.status is RunStatus.SUCCESS:
        return 0
    if status.error:
        print(f"error: {status.error.type}: {status.error.message}", file=sys.stderr)
    else:
        print(f"run ended {status.status.value}", file=sys.stderr)
    return 1


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    runtime = create_runtime(settings)
    with session_scope(runtime.engine) as session:
        status = service.get_status(
            session=session, queue=runtime.queue, run_id=args.run_id, settings=settings
        )
    print(status.to_json())
    return 0 if status.status is not RunStatus.FAILURE else 1


def cmd_cancel(args: argparse.Namespace, settings: Settings) -> int:
    runtime = create_runtime(settings)
    with session_scope(runtime.engine) as session:
        run = service.cancel_run(session=session, queue=runtime.queue, run_id=args.run_id)
    print(f"tuning run {run.id} is {run.status.value}")
    return 0 if run.status is RunStatus.REVOKED else 1


def cmd_runs(args: argparse.Namespace, settings: Settings) -> int:
    runtime = create_runtime(settings)
    with session_scope(runtime.engine) as session:
        admin, _ = service.ensure_local_admin(session=session)
        runs = service.list_runs(session=session, viewer=admin, limit=args.limit).items
    print(f"{'id':36}  {'status':8}  {'estimator':30}  {'best_score':>10}  created")
    for run in runs:
        score = f"{run.best_score:.4f}" if run.best_score is not None else "-"
        created = run.created_at.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{run.id!s:36}  {run.status.value:8}  {run.estimator:30}  {score:>10}  {created}")
    return 0


def cmd_share(args: argparse.Namespace, settings: Settings) -> int:
    runtime = create_runtime(settings)
    with session_scope(runtime.engine) as session:
        share = service.share_run(
            session=session, run_id=args.run_id, user=args.user, level=args.level, by=None
        )
    print(f"tuning run {args.run_id} is shared with {share.user} ({share.level})")
    return 0


def cmd_unshare(args: argparse.Namespace, settings: Settings) -> int:
    runtime = create_runtime(settings)
    with session_scope(runtime.engine) as session:
        service.unshare_run(session=session, run_id=args.run_id, user=args.user, by=None)
    print(f"tuning run {args.run_id} is no longer shared with {args.user}")
    return 0
