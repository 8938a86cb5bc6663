"""The ``kmstui`` command: the explorer, and the headless ``events``, ``keys`` and ``trails``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__
from .core.sources import CACHE_SIZE_VARIABLE, DEFAULT_MAX_INPUT, MAX_INPUT_VARIABLE
from .core.text import clean

HEADLESS = ("events", "keys", "trails")
COMMANDS = (*HEADLESS, "sql")
DESCRIPTION = "See what happened to your AWS KMS keys, from CloudTrail, in a terminal."
SOURCES_HELP = (
    "CloudTrail log files (plain or .gz), `aws cloudtrail lookup-events` output, JSON Lines, "
    "or directories of them (read recursively); - reads standard input; s3://BUCKET/PREFIX reads "
    "a trail's bucket (the window's day folders only)"
)
FILTER_GRAMMAR = """\
filter language (the same as the explorer's /):
  word                    text anywhere: name, principal, key, alias, IP, agent, error, context, id...
  field:value             the field contains it (any case); field:=value is the whole value, exactly
  field:a,b               either value; window<=7 and req.x>=1 compare numbers
  a b, a OR b, NOT a, -a  both; either; not (NOT binds tighter than AND, AND than OR)
  (a OR b) c              parentheses group; "double quotes" hold spaces, commas, parentheses
  req.NAME, resp.NAME     a path into requestParameters / responseElements (calls that change
                          something, and trail configuration); has:req.NAME: it has a value
fields:
"""


def filter_epilog() -> str:
    """The filter language for --help: the grammar, and each field from the registry."""
    from .core.fields import help_text

    return FILTER_GRAMMAR + help_text()


def demo_path() -> Path:
    """The bundled demo data: inside the installed package, or assets/demo in a checkout."""
    packaged = Path(__file__).with_name("_demo")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "assets" / "demo"


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="*", metavar="SOURCE", help=SOURCES_HELP)
    parser.add_argument("--demo", action="store_true", help="load the bundled demo incident")
    parser.add_argument("-q", "--quiet", action="store_true", help="no load summary on standard error")
    parser.add_argument(
        "--max-input",
        type=_size,
        metavar="SIZE",
        help="the most one input may hold once gunzipped, e.g. 2G "
        f"(default: {DEFAULT_MAX_INPUT >> 20}M, or ${MAX_INPUT_VARIABLE})",
    )
    live = parser.add_argument_group(
        "live AWS (credentials from the standard chain: AWS_PROFILE, SSO, environment, instance role)"
    )
    live.add_argument(
        "--lookup",
        action="store_true",
        help="load events from CloudTrail LookupEvents, and the account's trails and keys",
    )
    live.add_argument(
        "--region",
        action="append",
        default=[],
        metavar="R",
        help="a region to look up, or of a bucket's trail to read (repeat for several; all: every region "
        "enabled for the account, or in the bucket; default: the profile's, and every region in a bucket)",
    )
    live.add_argument(
        "--since",
        metavar="SPAN|TIME",
        help="from this long ago (15m, 2h, 7d) or this time (default: 1d; LookupEvents keeps 90 days)",
    )
    live.add_argument("--until", metavar="TIME", help="up to this time (default: now)")
    live.add_argument("--profile", metavar="P", help="the AWS profile to use")
    live.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor keep the local cache of looked-up events and bucket objects",
    )
    live.add_argument(
        "--cache-size",
        type=_size,
        metavar="SIZE",
        help=f"the most the cache of bucket objects may hold, e.g. 10G (default: 2G, or ${CACHE_SIZE_VARIABLE})",
    )
    live.add_argument(
        "--clear-cache", action="store_true", help="delete the caches of looked-up events and bucket objects, then exit"
    )
    athena = parser.add_argument_group(
        "Athena (the filter and the window run as SQL over the CloudTrail table AWS documents; see kmstui sql)"
    )
    athena.add_argument("--athena", metavar="TABLE", help="load the events from this Athena table (database.table)")
    athena.add_argument("--workgroup", metavar="WG", help="the Athena workgroup (default: primary)")
    athena.add_argument(
        "--output-location", metavar="S3URI", help="where Athena writes the result (default: the workgroup's)"
    )
    athena.add_argument(
        "--org", action="store_true", help="the organization-trail table: account and region partitions too"
    )
    athena.add_argument(
        "--account",
        action="append",
        default=[],
        metavar="ID",
        help="with --athena: only this account's events (repeat for several; prunes the account partition)",
    )


def _parser(command: str | None) -> argparse.ArgumentParser:
    if command is None:
        parser = argparse.ArgumentParser(
            prog="kmstui",
            description=DESCRIPTION,
            epilog="headless commands: kmstui events|keys|trails [SOURCE ...] (see kmstui events --help);\n"
            "kmstui sql: the filter as Athena or CloudTrail Lake SQL (see kmstui sql --help)\n\n" + filter_epilog(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _common(parser)
        parser.add_argument("-f", "--filter", default="", metavar="EXPR", help="start with this filter")
        parser.add_argument(
            "--follow", type=int, metavar="SECONDS", help="with --lookup: fetch new events every SECONDS (F toggles)"
        )
        parser.add_argument("--version", action="version", version=f"kmstui {__version__}")
        return parser
    parser = argparse.ArgumentParser(
        prog=f"kmstui {command}",
        description={
            "events": "Print the matching events, newest first.",
            "keys": "Print one row per KMS key: aliases, events, errors, principals, first and last use.",
            "trails": "Print one row per trail and source, and whether KMS events are logged.",
        }[command],
        epilog=filter_epilog() if command != "trails" else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(parser)
    formats = {
        "events": ["jsonl", "csv", "table", "raw"],
        "keys": ["jsonl", "csv", "table"],
        "trails": ["jsonl", "csv", "table"],
    }
    parser.add_argument("--format", choices=formats[command], default="table", help="output format (default: table)")
    if command != "trails":
        parser.add_argument("-f", "--filter", default="", metavar="EXPR", help="only events matching this filter")
    if command == "events":
        parser.add_argument("--count", action="store_true", help="print only the number of matching events")
        parser.add_argument(
            "--group-by",
            metavar="FIELD[,FIELD]",
            help="one row per value of a filter field, or pair of values (event,ip; key,principal; principal,ctx):"
            " events, errors, first and last seen, distinct keys and principals; most events first",
        )
        parser.add_argument(
            "--sort",
            metavar="COLUMN",
            help="with --group-by: sort by values, events, errors, first_seen, last_seen, keys, principals or new"
            " (default: events, most first; first_seen and values ascend)",
        )
    return parser


def _size(text: str) -> str:
    """``--max-input``: checked here, handed to the loaders (and their worker processes) by
    the environment variable they read."""
    from .core.sources import parse_size

    try:
        parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _say(message: str) -> None:
    """One line on standard error; what it quotes (file names, record text, AWS errors) is
    made visible, never obeyed."""
    print(f"kmstui: {clean(message)}", file=sys.stderr)


def _apply_limits(args: argparse.Namespace) -> None:
    if args.max_input:
        os.environ[MAX_INPUT_VARIABLE] = args.max_input


def _load(args):
    """Discover and load the sources; exits 2 when nothing loaded."""
    from .core import loader, sources
    from .core.decode import collector_paused
    from .core.index import EventIndex

    paths = list(args.sources)
    if args.demo:
        paths.append(str(demo_path()))
    buckets = [path for path in paths if is_bucket(path)]
    paths = [path for path in paths if not is_bucket(path)]
    if not paths and not args.lookup and not buckets and not args.athena:
        if sys.stdin.isatty():
            _say("no sources given: name CloudTrail files or directories, pipe them in, try --demo, or use --lookup")
            sys.exit(2)
        paths = ["-"]
    files, problems = sources.discover(paths)
    index = EventIndex()
    for skipped in problems:
        _say(f"skipped {skipped.label}: {skipped.reason}")
        index.report.skipped.append(skipped)
    live = None
    if args.lookup:
        from .core.live import LiveError, LiveLoader

        live = LiveLoader(index, live_options(args))
        try:
            files += live.prepare()
        except LiveError as error:
            _say(str(error))
            sys.exit(2)

    def report(batch) -> None:
        for source in batch.sources:
            if source.error:
                _say(f"skipped {source.label}: {source.error}")
            for problem in source.problems:
                _say(f"{source.label}: {problem}")

    # The collector off for the whole load, not only while a batch is merged: the pool's thread
    # unpickles each batch meanwhile (some thousand containers, no cycle), and it went over them
    # about 35 times a load; what the load made is set aside after (gc.freeze), as it lives on.
    with collector_paused(frozen=True):
        last = not (buckets or args.athena or live)  # no other load follows: the workers go at its end
        loader.load(index, sources.newest_first(files), on_batch=report, refresh_every=None, last=last)
    loader.shutdown(wait=True)  # this process exits soon: see loader.shutdown
    reader = None
    if buckets:
        from .core.live import LiveError
        from .core.live.bucket import BucketLoader

        try:
            reader = BucketLoader(index, bucket_options(args, buckets))
        except LiveError as error:
            _say(str(error))
            sys.exit(2)
        reader.run(refresh_every=None)
        loader.shutdown(wait=True)
        for skipped in reader.skipped:
            _say(f"skipped {skipped.label}: {skipped.reason}")
        for damage in reader.damaged:
            _say(damage)
        for problem in dict.fromkeys(reader.problems):
            _say(problem)
        if not args.quiet:
            for sentence in reader.sentences():
                _say(sentence)
        if reader.problems and index.report.files_loaded == 0 and live is None:
            _say("nothing could be loaded from the bucket")
            sys.exit(2)
    if args.athena:
        _athena(args, index)
    if live is not None:
        live.fetch()
        for problem in dict.fromkeys(live.problems):
            _say(problem)
        if not args.quiet:
            progress = live.progress
            _say(f"LookupEvents ({progress.describe}): {progress.events:,} new events in {progress.pages:,} pages.")
        if live.progress.pages == 0 and index.report.files_loaded == 0:
            _say("nothing could be loaded from AWS")
            sys.exit(2)
    elif index.report.files_loaded == 0 and reader is None and not args.athena:
        digests = index.report.digests
        if digests:  # a digest lists log files and their hashes: it holds no events
            _say(f"nothing could be loaded: only CloudTrail digest files ({digests:,}), which hold no events")
        else:
            _say("nothing could be loaded" + (" (no readable sources)" if not files else ""))
        sys.exit(2)
    if not args.quiet:
        for sentence in index.report.sentences():
            if not sentence.startswith(("Skipped ", "In ")):  # already said, one line per file
                _say(sentence)
    return index


def _athena(args, index) -> None:
    """Run the Athena query and load its events (exits 2 when it cannot start or loads nothing)."""
    from .core.live import LiveError
    from .core.live.athena import AthenaLoader

    athena = AthenaLoader(index, athena_options(args))
    try:
        athena.prepare()
    except LiveError as error:
        _say(str(error))
        sys.exit(2)
    assert athena.query is not None
    if athena.query.note and not args.quiet:
        _say(athena.query.note)
    shown = ""

    def progressed(progress) -> None:
        nonlocal shown
        if not args.quiet and progress.state != shown and sys.stderr.isatty():
            shown = progress.state
            _say(progress.describe)

    try:
        progress = athena.fetch(progressed)
    except KeyboardInterrupt:
        athena.stop()
        for problem in athena.problems:
            _say(problem)
        raise
    for problem in dict.fromkeys(athena.problems):
        _say(problem)
    if not args.quiet:
        _say(progress.describe + ".")
    if progress.state != "LOADED" and index.report.files_loaded == 0:
        sys.exit(2)


def athena_options(args):
    from .core import query
    from .core.live.athena import AthenaOptions

    return AthenaOptions(
        table=args.athena,
        organization=args.org,
        accounts=tuple(args.account),
        workgroup=args.workgroup,
        output_location=args.output_location,
        profile=args.profile,
        region=args.region[0] if args.region else None,
        since=args.since,
        until=args.until,
        filter=query.parse(getattr(args, "filter", "") or ""),
    )


def live_options(args):
    from .core import query
    from .core.live import LiveOptions

    return LiveOptions(
        profile=args.profile,
        regions=args.region,
        since=args.since,
        until=args.until,
        cache=not args.no_cache,
        filter=query.parse(getattr(args, "filter", "") or ""),
    )


def bucket_options(args, urls: list[str]):
    from .core import query
    from .core.live.bucket import BucketOptions

    return BucketOptions(
        urls,
        profile=args.profile,
        regions=args.region,
        since=args.since,
        until=args.until,
        cache=not args.no_cache,
        cache_size=args.cache_size,
        filter=query.parse(getattr(args, "filter", "") or ""),
    )


def _clear_cache() -> int:
    from .core.live import clear_cache
    from .core.live.objects import clear_cache as clear_objects

    removed = clear_cache()
    _say(f"removed {len(removed)} cached file{'s' if len(removed) != 1 else ''} of looked-up events")
    objects = clear_objects()
    _say(f"removed {len(objects)} cached bucket object{'s' if len(objects) != 1 else ''}")
    return 0


def _headless(command: str, argv: list[str]) -> int:
    args = _parser(command).parse_args(argv)
    if args.clear_cache:
        return _clear_cache()
    _apply_limits(args)
    from .core import export, query
    from .core.summary import summarise_keys
    from .core.trails import summarise_trails

    expression = getattr(args, "filter", "")
    try:
        compiled = query.parse(expression)
    except query.FilterError as error:
        _say(f"bad filter: {error}")
        _say(f"  {expression}")
        _say("  " + " " * error.position + "^")
        return 2
    grouped = None
    if getattr(args, "group_by", None):
        from .core import group

        try:
            grouped = group.parse_fields(args.group_by)
            if args.sort and args.sort not in group.SORTS:
                raise group.GroupError(f"cannot sort by {args.sort!r}: sort by one of {', '.join(group.SORTS)}")
        except group.GroupError as error:
            _say(f"bad --group-by: {error}")
            return 2
        if args.format == "raw" or args.count:
            _say("--group-by writes table, jsonl or csv (not raw, not --count)")
            return 2
    index = _load(args)
    out = sys.stdout
    if command == "trails":
        export.write_trails(out, summarise_trails(index), args.format)
        return 0
    rows = compiled.rows(index)
    if command == "events" and grouped is not None:
        from .core import group, novelty

        since = novelty.window_of(compiled.terms, index.snapshot).since
        novel = novelty.new_any(index, index.snapshot, since) if since is not None else None
        grouping = group.group(index, rows, grouped, novel)
        if args.sort:
            ascending = args.sort in ("values", "first_seen")
            grouping = grouping.sorted(args.sort, descending=not ascending)
        export.write_groups(out, grouping, args.format)
    elif command == "events":
        if args.count:
            print(len(rows))
        else:
            export.write_events(out, index, rows, summarise_trails(index), args.format, on_problem=_say)
    else:
        export.write_keys(out, summarise_keys(index, rows, unused=compiled.empty), args.format)
    return 0


def _sql_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kmstui sql",
        description="Print the SQL that asks Athena (or CloudTrail Lake) for the filter's KMS and\n"
        "trail-configuration events in a time window, without running it (kmstui --athena TABLE runs it).",
        epilog=filter_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-f", "--filter", default="", metavar="EXPR", help="the events wanted")
    _sql_options(parser)
    return parser


def _sql_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dialect", choices=("athena", "lake"), default="athena", help="Athena's CloudTrail table or CloudTrail Lake"
    )
    parser.add_argument(
        "--table",
        metavar="T",
        help="the table (database.table), or for lake the event data store id (default: cloudtrail_logs_pp)",
    )
    parser.add_argument(
        "--org",
        action="store_true",
        help="the organization-trail table: account and region partitions besides timestamp",
    )
    parser.add_argument(
        "--since", metavar="SPAN|TIME", help="from this long ago (15m, 2h, 7d) or this time (default: 1d)"
    )
    parser.add_argument("--until", metavar="TIME", help="up to this time (default: now)")
    parser.add_argument(
        "--account", action="append", default=[], metavar="ID", help="only this account's events (repeat for several)"
    )


def _sql(argv: list[str]) -> int:
    args = _sql_parser().parse_args(argv)
    from .core import query, sql

    try:
        compiled = query.parse(args.filter)
    except query.FilterError as error:
        _say(f"bad filter: {error}")
        return 2
    try:
        span = sql.window(args.since, args.until)
    except ValueError as error:
        _say(str(error))
        return 2
    bad = [a for a in args.account if not (len(a) == 12 and a.isdigit())]
    if bad:
        _say(f"--account {bad[0]!r} is not an AWS account id (12 digits)")
        return 2
    table = sql.Table(args.table or "cloudtrail_logs_pp", organization=args.org, accounts=tuple(args.account))
    generated = sql.generate(compiled, span, table, args.dialect)
    print(generated.sql + ";")
    if generated.note:
        _say(generated.note)
    return 0


def _explorer(argv: list[str]) -> int:
    args = _parser(None).parse_args(argv)
    if args.clear_cache:
        return _clear_cache()
    _apply_limits(args)
    if not sys.stdout.isatty():
        _say(
            "the explorer needs a terminal: for scripts, pipes and cron use the headless commands, "
            "kmstui events, kmstui keys or kmstui trails (see kmstui events --help)"
        )
        return 2
    from .core import query

    try:
        query.parse(args.filter)
    except query.FilterError as error:
        _say(f"bad filter: {error}")
        return 2
    paths = list(args.sources)
    if args.demo:
        paths.append(str(demo_path()))
    buckets = [path for path in paths if is_bucket(path)]
    paths = [path for path in paths if not is_bucket(path)]
    bucket = None
    if buckets:
        from .core.live import LiveError
        from .core.live.bucket import parse_url

        try:
            for url in buckets:
                parse_url(url)
        except LiveError as error:
            _say(str(error))
            return 2
        bucket = bucket_options(args, buckets)
    if not paths and not args.lookup and not buckets and not args.athena and sys.stdin.isatty():
        _say("no sources given: name CloudTrail files or directories, pipe them in, try --demo, or use --lookup")
        return 2
    from .core import sources

    if (not paths and not args.lookup and not buckets and not args.athena) or "-" in paths:
        # Read the piped input first, then give the terminal back to the explorer as its keyboard.
        try:
            extra = [sources.spool_stdin()]
        except sources.SourceError as error:
            _say(f"skipped standard input: {error}")
            extra = []
        paths = [p for p in paths if p != "-"]
        if not extra and not paths and not args.lookup and not buckets and not args.athena:
            _say("nothing could be loaded (no readable sources)")
            return 2
    else:
        extra = []
    if not sys.stdin.isatty() or extra:
        try:
            tty = os.open("/dev/tty", os.O_RDWR)
        except OSError:
            _say(
                "the explorer needs a terminal to read keys from: for piped input without one use "
                "kmstui events, kmstui keys or kmstui trails"
            )
            return 2
        os.dup2(tty, 0)
        os.close(tty)
        sys.stdin = open(0, encoding="utf-8", closefd=False)
    preload = None
    if paths or extra:
        # Local files start loading now, before Textual is imported and the screen is built:
        # the worker processes fork while this process runs one thread (core/background.py).
        from .core.background import BackgroundLoad
        from .core.index import EventIndex

        files, skipped = sources.discover(paths)
        index = EventIndex()
        index.report.skipped.extend(skipped)
        preload = BackgroundLoad(index, files + extra)
        preload.start(pause_collector=True)  # until the first events are drawn
    from .ui.app import run

    live = live_options(args) if args.lookup else None
    athena = athena_options(args) if args.athena else None
    return run(
        [], filter_text=args.filter, preload=preload, live=live, follow=args.follow, bucket=bucket, athena=athena
    )


def _attach_filter(argv: list[str]) -> list[str]:
    """``-f -error:*`` as ``--filter=-error:*``: a filter may start with a dash (negation),
    which argparse would otherwise take for an option."""
    out: list[str] = []
    arguments = iter(argv)
    for arg in arguments:
        if arg in ("-f", "--filter"):
            value = next(arguments, None)
            if value is None or value.startswith("--"):  # no value given: let argparse say so
                out.append("--filter")
                if value is not None:
                    out.append(value)
            else:
                out.append(f"--filter={value}")
        else:
            out.append(arg)
    return out


def is_bucket(source: str) -> bool:
    """``s3://BUCKET/PREFIX``: a trail's bucket, read in place (core/live/bucket.py)."""
    return source.startswith("s3://")


def _mistyped_command(word: str) -> str | None:
    """The command ``word`` is close to, when it names no file: ``event`` for ``events``."""
    import difflib

    if word.startswith("-") or word in COMMANDS or is_bucket(word) or os.path.lexists(word):
        return None
    close = difflib.get_close_matches(word.lower(), COMMANDS, n=1, cutoff=0.6)
    return close[0] if close else None


def main(argv: list[str] | None = None) -> int:
    argv = _attach_filter(sys.argv[1:] if argv is None else argv)
    limit = os.environ.get(MAX_INPUT_VARIABLE)
    try:
        if argv and argv[0] in HEADLESS:
            return _headless(argv[0], argv[1:])
        if argv and argv[0] == "sql":
            return _sql(argv[1:])
        if argv and (command := _mistyped_command(argv[0])) is not None:
            _say(f"{argv[0]}: no such command or file (did you mean kmstui {command}?)")
            return 2
        return _explorer(argv)
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (| head): not an error. Silence the flush at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    finally:  # --max-input is for this command only (main may be called again in one process)
        if limit is None:
            os.environ.pop(MAX_INPUT_VARIABLE, None)
        else:
            os.environ[MAX_INPUT_VARIABLE] = limit


if __name__ == "__main__":
    sys.exit(main())
