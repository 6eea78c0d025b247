"""Every CLI mistake ends with exit 2 and one line ``thermonn: error: …``, before any work."""

import argparse
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thermonn.cli.main import build_parser, main


def _subparsers(parser: argparse.ArgumentParser, prefix=()):
    """(command words, parser) for every leaf sub-command."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix, parser
        return
    for name, child in subs[0].choices.items():
        yield from _subparsers(child, (*prefix, name))


LEAVES = list(_subparsers(build_parser()))


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("thermonn: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(("words", "parser"), LEAVES, ids=[" ".join(w) for w, _ in LEAVES])
def test_every_option_has_help_and_shows_its_default(words, parser):
    assert parser.description, f"{' '.join(words)} has no description"
    text = parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{words} {action.option_strings or action.dest}: no help"
        if action.option_strings and action.default not in (None, False, [], argparse.SUPPRESS):
            shown = "".join(f"(default: {action.default}".split())
            assert shown in "".join(text.split()), (words, action.dest)


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("thermonn ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["computer", "train", "--out", "r", "--limit-train", "0"], "--limit-train: expected an integer >= 1, got 0"),
        (["computer", "train", "--out", "r", "--limit-test", "0"], "--limit-test: expected an integer >= 1, got 0"),
        (["computer", "train", "--out", "r", "--limit-train", "-5"], "--limit-train: expected an integer >= 1, got -5"),
        (["computer", "train", "--out", "r", "--trajectories", "0"], "--trajectories: expected an integer >= 1"),
        (["computer", "train", "--out", "r", "--temperature", "0"], "--temperature: expected a finite number > 0"),
        (["computer", "train", "--out", "r", "--joules-per-mac", "-1"], "--joules-per-mac: expected a finite number > 0"),
        (["computer", "train", "--out", "r", "--lr", "nan"], "--lr: expected a finite number > 0"),
        (["computer", "train", "--out", "r", "--blocks", "in-nowhere"], "--blocks: invalid choice"),
        (["computer", "train", "--out", "r", "--trainer", "sgd"], "--trainer: invalid choice"),
        (["computer", "train", "--out", "r", "--kappa", "-1"], "--kappa: expected a positive number or 'exact'"),
        (["computer", "eval", "r", "--trajectories", "0"], "--trajectories: expected an integer >= 1"),
        (["computer", "generate", "--out", "r", "--samples", "0"], "--samples: expected an integer >= 1"),
        (["bench", "run", "--seeds", str(2**70)], "--seeds: expected an integer seed in [0, 4294967295]"),
        (["bench", "run", "--seeds", "-1"], "--seeds: expected an integer seed"),
        (["bench", "run", "--epochs-scale", "0"], "--epochs-scale: expected a finite number > 0"),
        (["bench", "run", "--budget", "huge"], "--budget: invalid choice"),
        (["demo", "--entropies", "heat"], "--entropies: invalid choice"),
        (["demo", "--lr", "inf"], "--lr: expected a finite number > 0"),
        (["nonsense"], "invalid choice: 'nonsense'"),
        ([], "the following arguments are required"),
    ],
)  # fmt: skip
def test_bad_values_are_refused_while_parsing(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in _one_error_line(capsys)
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_checks_after_parsing_come_before_any_work(tmp_path, capsys):
    file = tmp_path / "a-file"
    file.write_text("x")
    grid = ["bench", "run", "--tasks", "wine", "--models", "linear", "--no-progress"]
    cases = [
        ([*grid, "--out", str(file)], "--out: expected a folder, got the existing file"),
        ([*grid, "--out", str(file / "sub")], f"{file} is a file, not a folder"),
        ([*grid, "--device", "meta", "--out", str(tmp_path / "b")], "got 'meta'"),
        (["computer", "train", "--dataset", "digits", "--out", str(file)], "expected a folder"),
        (["computer", "eval", str(tmp_path / "none")], "no such run folder"),
        (["computer", "report", str(tmp_path / "none")], "no such run folder"),
        (["demo", "--out", str(file)], "expected a folder"),
        (
            ["computer", "train", "--dataset", "mnist", "--data-dir", str(tmp_path / "no-idx"),
             "--out", str(tmp_path / "m")],
            "no-idx does not exist",
        ),
    ]  # fmt: skip
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in _one_error_line(capsys), argv
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_the_console_script_prints_no_traceback(tmp_path):
    exe = [sys.executable, "-m", "thermonn.cli.main"]
    done = subprocess.run(
        [*exe, "bench", "report", str(tmp_path / "nothing")], capture_output=True, text=True
    )
    assert done.returncode == 2 and done.stderr.startswith("thermonn: error: ")
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


_BAD = st.sampled_from(
    ["0", "-1", "-5", "nan", "inf", "-inf", "1e400", str(2**70), "", "abc", "1.5", "--", "0x10"]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_every_parser_with_bad_values(data):
    """Any value for any option: the parser accepts it or exits 2 with one error line."""
    words, parser = data.draw(st.sampled_from(LEAVES))
    options = [a for a in parser._actions if a.option_strings and a.nargs != 0 and a.dest != "help"]
    if not options:
        return
    picked = data.draw(st.lists(st.sampled_from(options), min_size=1, max_size=3))
    argv = [*words]
    for action in picked:
        argv += [action.option_strings[0], data.draw(_BAD)]
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            build_parser().parse_args(argv)
        except SystemExit as done:
            assert done.code == 2
            text = err.getvalue()
            assert text.startswith("thermonn: error: ") and text.count("\n") == 1, text


def test_every_run_config_field_is_reachable_from_the_cli():
    from dataclasses import fields

    from thermonn.cli.computer import _run_config
    from thermonn.experiments.thermocomputer.run import RunConfig

    argv = ["computer", "train", "--out", "r", "--t-final", "0.1", "--blocks", "in-hidden"]
    config = _run_config(build_parser().parse_args(argv))
    assert config.t_final == 0.1 and config.blocks == ("in-hidden",)
    dests = {a.dest for _, p in LEAVES for a in p._actions}
    assert {f.name for f in fields(RunConfig)} <= dests


def test_a_missing_or_corrupt_data_set_is_named_before_the_folder_is_touched(
    tmp_path, monkeypatch, capsys
):
    import gzip

    from helpers import write_idx_dir
    from thermonn.bench import tasks
    from thermonn.data import idx

    monkeypatch.setattr(idx, "FASHION_MNIST_DIR", tmp_path / "no-such-dir")
    tasks._load.cache_clear()
    out = tmp_path / "sweep"
    argv = ["bench", "run", "--tasks", "fashion_mnist", "--models", "linear", "--out", str(out)]
    try:
        assert main(argv) == 2
        assert "no-such-dir does not exist" in _one_error_line(capsys)
        assert not out.exists()
    finally:
        tasks._load.cache_clear()
    data = tmp_path / "idx"
    data.mkdir()
    write_idx_dir(data)
    bad = data / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(gzip.compress(b"\x00\x00\x08\x01")[:-6])  # truncated gzip stream
    run = tmp_path / "run"
    argv = ["computer", "train", "--dataset", "mnist", "--data-dir", str(data), "--out", str(run)]
    assert main(argv) == 2
    assert f"{bad}: expected a gzip-compressed IDX file" in _one_error_line(capsys)
    assert not run.exists()
