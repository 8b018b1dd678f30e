"""``deteval``: the composition root of the command line.

Each part registers its own subcommands and imports nothing of the others: the library
(:mod:`evaluator.cli.commands`: evaluate, check, compare), the service
(:mod:`service.cli`: serve, api, submit) and the workers (:mod:`workers.cli`: worker).
Those registrations import only the standard library; a command imports what it needs
(FastAPI, Celery, ...) when it runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from evaluator.cli import commands as library
from service import cli as service
from workers import cli as workers


def build_parser() -> argparse.ArgumentParser:
    """The ``deteval`` parser with every part's subcommands."""
    parser, sub = library.new_parser()
    library.register(sub)
    service.register(sub)
    workers.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``deteval`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    return library.run(build_parser(), argv)
