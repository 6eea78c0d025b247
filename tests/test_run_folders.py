"""Run folders: one writer at a time, duplicates never reach statistics, refused commands change
nothing, corrupt files are named."""

import json
import os
import signal
import subprocess
import sys

import pytest

from thermonn._io import FolderInUseError, folder_lock
from thermonn.bench import Cell, RunOptions, read_rows, run_sweep
from thermonn.bench.report import write_report
from thermonn.cli.main import main
from thermonn.experiments.thermocomputer.run import RunConfig

QUICK = RunOptions(epochs_scale=0.1, max_train=64, threads=1)
_HOLDER = (
    "import sys, time\n"
    "from thermonn._io import folder_lock\n"
    "with folder_lock(sys.argv[1]):\n"
    "    print('locked', flush=True)\n"
    "    time.sleep(60)\n"
)


@pytest.fixture
def holder():
    """Start a process that holds a folder's lock; yields (start, process)."""
    procs = []

    def start(folder):
        p = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(folder)], stdout=subprocess.PIPE, text=True
        )
        assert p.stdout.readline().strip() == "locked"
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.kill()
        p.wait()


def test_a_second_writer_is_refused_naming_the_owner_and_a_killed_owner_frees_the_folder(
    tmp_path, holder, capsys
):
    owner = holder(tmp_path)
    with pytest.raises(FolderInUseError, match=f"in use by PID {owner.pid}"):
        run_sweep([Cell("wine", "mlp-gelu")], tmp_path, QUICK)
    assert not (tmp_path / "rows.jsonl").exists()
    argv = ["bench", "run", "--tasks", "wine", "--models", "linear", "--out", str(tmp_path)]
    assert main([*argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("thermonn: error: ") and f"PID {owner.pid}" in err
    assert err.count("\n") == 1 and not (tmp_path / "command.txt").exists()
    argv = ["computer", "train", "--dataset", "digits", "--out", str(tmp_path), "--no-progress"]
    assert main(argv) == 2
    assert f"PID {owner.pid}" in capsys.readouterr().err
    assert not (tmp_path / "config.json").exists()
    os.kill(owner.pid, signal.SIGKILL)  # the kernel drops the lock with its owner
    owner.wait()
    with folder_lock(tmp_path), folder_lock(tmp_path):  # re-entrant within one process
        pass


def _rows_with_duplicates(tmp_path):
    cells = [Cell("wine", m, seed=s) for m in ("mlp-gelu", "linear") for s in (0, 1, 2)]
    run_sweep(cells, tmp_path, QUICK)
    rows_file = tmp_path / "rows.jsonl"
    clean = rows_file.read_text()
    # what two processes writing one folder used to leave: every row twice, one of them
    # changed (another run of the same cell)
    doubled = [json.loads(line) for line in clean.splitlines()]
    doubled[0] = {**doubled[0], "value": 0.0}
    rows_file.write_text(clean + "".join(json.dumps(r) + "\n" for r in doubled))
    return clean


def test_duplicate_rows_never_reach_statistics(tmp_path):
    clean = _rows_with_duplicates(tmp_path)
    found = read_rows(tmp_path / "rows.jsonl")
    assert len(found.rows) == 6 and len(found.duplicates) == 6
    assert found.rows == [json.loads(line) for line in clean.splitlines()]  # first one wins
    report = write_report(tmp_path).read_text()
    assert "6 duplicate rows of already-present runs ignored" in report
    (tmp_path / "rows.jsonl").write_text(clean)
    assert write_report(tmp_path).read_text() == report.replace(
        "; 6 duplicate rows of already-present runs ignored", ""
    )
    again = run_sweep([Cell("wine", "linear", seed=0)], tmp_path, QUICK)
    assert again.ran == 0


def test_reading_rows_never_rewrites_the_file_but_the_lock_holder_repairs_a_torn_line(tmp_path):
    run_sweep([Cell("wine", "linear")], tmp_path, QUICK)
    rows_file = tmp_path / "rows.jsonl"
    torn = rows_file.read_text() + '{"key": "wine|lin'
    rows_file.write_text(torn)
    assert read_rows(rows_file).torn and len(read_rows(rows_file).rows) == 1
    write_report(tmp_path)
    assert rows_file.read_text() == torn  # a reader leaves a writer's line alone
    run_sweep([Cell("wine", "linear", seed=1)], tmp_path, QUICK)
    assert [json.loads(x)["seed"] for x in rows_file.read_text().splitlines()] == [0, 1]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[1, 2]", "line 2: expected a JSON object with a string 'key'.*got list"),
        ('{"task": "wine"}', "line 2: expected a JSON object with a string 'key'"),
        ('{"key": "x|y"}', "line 2: run 'x|y' lacks fields"),
        ("not json", "line 2 is not JSON"),
    ],
)
def test_bad_rows_are_named_by_file_and_line(tmp_path, capsys, line, message):
    run_sweep([Cell("wine", "linear")], tmp_path, QUICK)
    rows_file = tmp_path / "rows.jsonl"
    rows_file.write_text(rows_file.read_text() + line + "\n" + rows_file.read_text())
    with pytest.raises(ValueError, match=message):
        write_report(tmp_path)
    assert main(["bench", "report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"thermonn: error: {rows_file}: line 2") and err.count("\n") == 1


def test_bench_report_on_a_missing_or_empty_folder_is_one_line(tmp_path, capsys):
    assert main(["bench", "report", str(tmp_path / "none")]) == 2
    assert "no such sweep folder" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()
    assert main(["bench", "report", str(tmp_path)]) == 2
    assert "no rows.jsonl with finished runs" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["matching.json", "machine.json"])
@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_corrupt_sweep_files_are_named(tmp_path, capsys, name, content):
    run_sweep([Cell("wine", "linear")], tmp_path, QUICK)
    (tmp_path / name).write_text(content)
    argv = ["bench", "run", "--tasks", "wine", "--models", "linear", "--seeds", "0", "1"]
    assert main([*argv, "--epochs-scale", "0.1", "--max-train", "64", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / name}: expected a JSON object" in err and err.count("\n") == 1
    assert len(read_rows(tmp_path / "rows.jsonl").rows) == 1


def test_a_refused_bench_run_leaves_the_folder_untouched(tmp_path, capsys):
    run_sweep([Cell("wine", "linear")], tmp_path, QUICK)
    (tmp_path / "command.txt").write_text("the command that made it\n")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    argv = ["bench", "run", "--tasks", "wine", "--models", "linear", "--out", str(tmp_path)]
    assert main([*argv, "--epochs-scale", "0.25", "--no-progress"]) == 2
    assert "holds runs made with epochs_scale=0.1" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_refused_computer_train_leaves_the_folder_untouched(tmp_path, capsys):
    config = RunConfig(dataset="digits", kappa=50.0)
    (tmp_path / "config.json").write_text(json.dumps(config.to_json()))
    (tmp_path / "command.txt").write_text("the command that made it\n")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    argv = ["computer", "train", "--dataset", "digits", "--out", str(tmp_path), "--no-progress"]
    assert main(argv) == 2
    assert "different configuration" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    (tmp_path / "config.json").write_text("{broken")
    assert main(argv) == 2
    assert f"{tmp_path / 'config.json'}: expected a JSON object" in capsys.readouterr().err
    (tmp_path / "config.json").write_text('{"dataset": "digits", "colour": "blue"}')
    for name in ("teacher.safetensors", "machine.safetensors"):
        (tmp_path / name).write_bytes(b"")
    assert main(["computer", "eval", str(tmp_path)]) == 2
    assert "not a run configuration" in capsys.readouterr().err


def test_divergence_and_corrupt_weights_are_told_apart(tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    base = ["computer", "train", "--dataset", "digits", "--limit-train", "200", "--limit-test"]
    base += ["50", "--teacher-epochs", "1", "--no-progress", "--trajectories", "1"]
    diverge = [*base, "--trainer", "adam", "--epochs", "2", "--lr", "1e30"]
    assert main([*diverge, "--out", str(tmp_path / "lr")]) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("thermonn: error: adam: the loss became non-finite") and "1e+30" in err
    out = tmp_path / "ok"
    assert main([*base, "--out", str(out)]) == 0
    capsys.readouterr()
    machine = out / "machine.safetensors"
    tensors = load_file(str(machine))
    tensors["bias"][0] = float("nan")
    save_file(tensors, str(machine))
    assert main(["computer", "eval", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{machine}: bias holds NaN or inf values; the file is corrupt" in err
