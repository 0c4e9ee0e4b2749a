"""The one ``dripline`` parser: every layer's commands, and help without a command."""

from __future__ import annotations

import pytest

from api.cli import main

EVERY_COMMAND = ["demo", "catalogue", "plan", "scheduler", "import", "audit", "roads", "serve", "users"]


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    """``dripline --help`` names the dispatch layer's commands and the api layer's alike."""
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    listed = capsys.readouterr().out
    assert [command for command in EVERY_COMMAND if f"    {command} " not in listed] == []


def test_no_command_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    """``dripline`` alone prints the same help and exits 0, rather than an argparse error."""
    assert main([]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("usage: dripline") and "    serve " in shown and "    import " in shown


def test_a_bad_argument_is_one_line_without_a_stack_trace(capsys: pytest.CaptureFixture[str]) -> None:
    """A date that does not parse: exit 2 and argparse's one error line naming the option."""
    with pytest.raises(SystemExit) as exit_:
        main(["plan", "--date", "tomorrow"])
    assert exit_.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == "dripline plan: error: argument --date: expected a date as YYYY-MM-DD, got 'tomorrow'"
