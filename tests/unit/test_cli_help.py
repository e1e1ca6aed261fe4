"""`--help` everywhere (issue 17, part 6): every genrep command and subcommand ends its help with its
exit codes and at least one example, laid out line by line; every `--defect` option names every
defect of the registry (genrep.sim.defects.DEFECTS), computed, so a new defect is listed without
anyone editing the help; `genrep --version`."""

from __future__ import annotations

import argparse
import re

import pytest

from genrep.cli import COMMAND_HELP, build_parser, main
from genrep.sim.defects import DEFECTS

CODE_LINE = re.compile(r"^  (\d+(?:, \d+)*)\s{2,}\S", re.M)  # "  0    GO ..." / "  130, 143  ..."
EXAMPLE_LINE = re.compile(r"^  genrep\b.*$", re.M)


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command words, parser) of the top-level parser and every subparser below it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, path + (name,))


PARSERS = list(walk(build_parser()))
IDS = [" ".join(path) or "genrep" for path, _ in PARSERS]


def sections(help_text: str) -> tuple[str, str]:
    """The 'exit codes:' and 'examples:' blocks of a help text ('' when missing)."""
    codes = re.search(r"^exit codes:\n(.*?)(?=^\S|\Z)", help_text, re.M | re.S)
    examples = re.search(r"^examples:\n(.*?)(?=^\S|\Z)", help_text, re.M | re.S)
    return (codes.group(1) if codes else "", examples.group(1) if examples else "")


def test_the_walk_finds_every_command():
    commands = {path for path, _ in PARSERS}
    assert {(), ("rehearse",), ("gate",), ("report",), ("sim", "up"), ("contract", "check"), ("certs", "check"),
            ("bench", "mllp"), ("bench", "load"), ("load",), ("lint",), ("steps",), ("selftest",), ("defects",),
            ("mutate",), ("explore",)} <= commands
    assert len(commands) >= 20


@pytest.mark.parametrize("path,parser", PARSERS, ids=IDS)
def test_every_command_help_has_exit_codes_and_an_example(path, parser):
    text = parser.format_help()
    codes, examples = sections(text)
    assert CODE_LINE.findall(codes), f"genrep {' '.join(path)} --help has no 'exit codes:' block:\n{text}"
    assert EXAMPLE_LINE.findall(examples), f"genrep {' '.join(path)} --help has no example:\n{text}"
    assert any(example.split()[1:1 + len(path)] == list(path) for example in EXAMPLE_LINE.findall(examples)), \
        f"genrep {' '.join(path)} --help: no example calls this command:\n{examples}"
    assert isinstance(parser.formatter_class, type) and issubclass(
        parser.formatter_class, argparse.RawDescriptionHelpFormatter)


@pytest.mark.parametrize("path,parser", PARSERS, ids=IDS)
def test_examples_keep_their_lines(path, parser):
    """RawDescriptionHelpFormatter: an example is one line as written, never re-wrapped into the next."""
    _, examples = sections(parser.format_help())
    written = COMMAND_HELP[path][1]
    assert [line.strip() for line in examples.strip("\n").splitlines()] == written


def test_exit_codes_are_those_the_commands_give():
    def codes(*path):
        return {c for block in CODE_LINE.findall(sections(dict(PARSERS)[path].format_help())[0])
                for c in block.split(", ")}

    assert codes("rehearse") == {"0", "1", "2", "3", "4", "5", "130", "143"}
    assert codes("gate") == {"0", "1", "2", "4", "5"}  # nothing to reach, no run to interrupt
    assert codes("lint") == {"0", "1", "2"}
    assert codes("steps") == {"0", "2"}
    assert codes("defects") == {"0"}
    assert codes("certs", "check") == {"0", "1", "2", "3", "130", "143"}
    assert codes("load") == {"0", "1", "2", "3", "4", "130", "143"}  # 4: SLA INCONCLUSIVE
    assert "4" not in codes("selftest") and "5" not in codes("load")


def test_every_documented_code_is_one_genrep_uses():
    used = {"0", "1", "2", "3", "4", "5", "130", "143"}
    for path, parser in PARSERS:
        found = {c for block in CODE_LINE.findall(sections(parser.format_help())[0]) for c in block.split(", ")}
        assert found <= used, (path, found - used)


DEFECT_OPTIONS = [(path, parser, action) for path, parser in PARSERS for action in parser._actions
                  if "--defect" in action.option_strings]


def test_the_commands_that_switch_defects_have_the_option():
    assert {path for path, _, _ in DEFECT_OPTIONS} >= {("rehearse",), ("sim", "up"), ("selftest",), ("load",),
                                                       ("explore",)}


@pytest.mark.parametrize("path,parser,action", DEFECT_OPTIONS, ids=[" ".join(p) for p, _, _ in DEFECT_OPTIONS])
def test_defect_help_names_every_defect(path, parser, action):
    assert len(DEFECTS) >= 10
    help_text = parser.format_help()
    option_help = help_text[help_text.index(action.option_strings[0] + " "):help_text.index("exit codes:")]
    listed = set(re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)+", option_help))
    missing = sorted(set(DEFECTS) - listed)
    assert not missing, f"genrep {' '.join(path)} --help: --defect does not name {missing}:\n{option_help}"


def test_defect_names_come_from_the_registry(monkeypatch):
    """Computed, not typed: a defect added to the registry appears in the help of the next parser."""
    from genrep.sim import defects
    fake = defects.Defect("radiology-made-up-for-this-test", "radiology", "ehr", "test only", None,
                          ("RAD-R01",), ("truncated",))
    monkeypatch.setitem(defects.DEFECTS, fake.name, fake)
    parser = dict(walk(build_parser()))[("rehearse",)]
    assert "radiology-made-up-for-this-test" in parser.format_help()


def test_defect_names_are_not_split_at_hyphens():
    text = dict(PARSERS)[("rehearse",)].format_help()
    assert "radiology-conclusion-negation-dropped" in text
    assert not re.search(r"[a-z]-\n", text)


def test_help_exits_0_and_prints_the_examples(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["rehearse", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "exit codes:" in out and 'genrep rehearse --name "utsträckt hand"' in out


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert re.fullmatch(r"genrep \S+\n", capsys.readouterr().out)
