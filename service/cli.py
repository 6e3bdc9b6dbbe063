"""The command line: parses arguments, loads the config and hands over to a command (`service.commands`).

The parts each command runs on are built by the composition root, `service.runtime`.

Exit codes: 0 success; 1 could not run (store unreachable) or a test alert not delivered; 2 a bad command
line or a bad config (one message per problem, no traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from service import __version__
from service.errors import CannotRun, ConfigError, StoreError, UserError
from service.logs import Logger, configure_logging, get_logger
from service.settings import Config, load_config, read_env_overrides

EXIT_FAILED, EXIT_USAGE = 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsalert",
        description="Streaming news alerts: poll feeds, match watchlists, deliver each alert once.",
    )
    parser.add_argument("--version", action="version", version=f"newsalert {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the service (or one pass with --once)")
    _config_arg(run)
    run.add_argument("--once", action="store_true", help="poll every enabled feed once, deliver, exit")

    check = commands.add_parser("check", help="validate the config file and show what it holds")
    _config_arg(check)

    match = commands.add_parser("match", help="dry run: explain which watchlists match SOURCE")
    _config_arg(match)
    match.add_argument("--watchlist", action="append", default=[], metavar="NAME", help="only this one")
    match.add_argument("--json", action="store_true", help="one JSON object per item")
    match.add_argument(
        "--explain",
        action="store_true",
        help="say why each silent watchlist did not fire (on with --watchlist)",
    )
    match.add_argument("source", nargs="?", default="-", help="feed file, HTML page, text file, URL, or -")

    send = commands.add_parser("send-test", help="send one clearly marked test alert through a sink")
    _config_arg(send)
    send.add_argument("--sink", required=True, metavar="NAME")

    feeds = commands.add_parser("feeds", help="feed tools")
    feed_commands = feeds.add_subparsers(dest="feeds_command", required=True, metavar="SUBCOMMAND")
    importer = feed_commands.add_parser("import", help="print [[feeds]] blocks for an OPML export")
    importer.add_argument("file", metavar="FILE.opml")
    status = feed_commands.add_parser("status", help="each feed's polling state from the store")
    _config_arg(status)

    words = commands.add_parser("lexicon", help="the built-in multilingual lexicon (@std.NAME), or one entry")
    words.add_argument("name", nargs="?", metavar="NAME", help="one entry, e.g. rocket or std.rocket")

    outbox = commands.add_parser("outbox", help="list deliveries that are pending or parked")
    _config_arg(outbox)
    outbox.add_argument("--all", action="store_true", help="include delivered ones")
    return parser


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="the TOML config file (default: $NEWSALERT_CONFIG)")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except UserError as exc:
        print(f"newsalert: {exc}" if not isinstance(exc, ConfigError) else str(exc), file=sys.stderr)
        return EXIT_USAGE
    except CannotRun as exc:
        print(f"newsalert: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "feeds" and args.feeds_command == "import":
        from service.commands import import_opml

        return import_opml(args.file)
    if args.command == "lexicon":
        from service.commands import print_lexicon

        return print_lexicon(args.name)
    config_path = args.config_path = _config_path(args)
    config = load_config(config_path)
    configure_logging(config.service.log_format, config.service.log_level)
    log = get_logger()
    if args.command == "check":
        from service.commands import print_check

        return print_check(config_path, config, log)
    if args.command == "match":
        from service.commands import run_match

        return run_match(
            config, args.source, watchlists=args.watchlist, as_json=args.json, explain=args.explain
        )
    return asyncio.run(_async_command(args, config, log))


async def _async_command(args: argparse.Namespace, config: Config, log: Logger) -> int:
    from service import commands

    try:
        if args.command == "run":
            if args.once:
                return await commands.run_once(config, log)
            return await commands.run_forever(args.config_path, config, log)
        if args.command == "send-test":
            return await commands.send_test(config, args.sink, log)
        if args.command == "feeds":
            return await commands.feeds_status(config, log)
        if args.command == "outbox":
            return await commands.show_outbox(config, log, include_delivered=args.all)
    except StoreError as exc:
        if isinstance(exc, UserError):
            raise
        log.error("store_unavailable", error=str(exc))
        return EXIT_FAILED
    raise AssertionError(f"unhandled command {args.command}")


def _config_path(args: argparse.Namespace) -> str:
    path = args.config or read_env_overrides().config
    if not path:
        raise UserError("no config file: pass --config FILE or set NEWSALERT_CONFIG")
    return str(path)
