"""Output paths are proven writable by creating them (and cleaning up) before any work.

``os.access`` says yes to root everywhere, ``/proc`` included; the only proof is to
create the file. Each check leaves the file system as it found it: a new file is
removed again, an existing file keeps its bytes and times, created folders are removed.
The library (``refnet.save``) and every command line use the same checks, so a command
never trains and then fails on its output.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

import refnet
import refnet.cli as cli
from refnet import mlp, save
from refnet.validation import check_output_dir, check_output_file, output_dir_argument, output_file_argument

UNWRITABLE = [p for p in ("/proc/refnet-w.npz", "/sys/refnet-w.npz") if Path(p).parent.is_dir()]
"""Paths whose folder exists and ``os.access`` calls writable for root, but which take no new file."""


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("path", UNWRITABLE)
def test_a_folder_that_takes_no_files_is_refused_by_name(path: str) -> None:
    with pytest.raises(ValueError, match=r"^path: cannot write "):
        check_output_file("path", path)
    with pytest.raises(ValueError, match=r"^out: cannot create "):
        check_output_dir("out", str(Path(path).with_suffix("")) + "/sub")


def test_a_new_file_is_created_then_removed(tmp_path: Path) -> None:
    target = tmp_path / "w.npz"
    assert check_output_file("path", target) == target
    assert _listing(tmp_path) == []  # neither the file nor a probe is left behind


def test_an_existing_file_keeps_its_bytes_and_times(tmp_path: Path) -> None:
    target = tmp_path / "w.npz"
    target.write_bytes(b"keep me")
    os.utime(target, (1_000_000, 2_000_000))
    check_output_file("path", str(target))
    assert target.stat().st_mtime == 2_000_000  # opened for appending, nothing written
    assert target.read_bytes() == b"keep me"
    assert _listing(tmp_path) == ["w.npz"]


def test_a_read_only_file_in_a_read_only_folder_is_refused(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes read-only files; /proc covers the root case")
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "w.npz").write_bytes(b"x")
    (folder / "w.npz").chmod(0o444)
    folder.chmod(0o555)
    try:
        with pytest.raises(ValueError, match=r"^path: "):
            check_output_file("path", folder / "w.npz")
        with pytest.raises(ValueError, match=r"^path: "):
            check_output_file("path", folder / "new.npz")
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("special", ["/dev/null", "/dev/zero"])
def test_a_device_is_not_an_output_file(special: str) -> None:
    # a save writes a temporary file and renames it over the target: never over a device
    with pytest.raises(ValueError, match=r"^path: .*not a regular file"):
        check_output_file("path", special)


def test_folders_and_missing_folders(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^path: .* is a directory"):
        check_output_file("path", tmp_path)
    with pytest.raises(ValueError, match=r"^path: folder .* does not exist"):
        check_output_file("path", tmp_path / "missing" / "w.npz")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"^path: .* is not a directory"):
        check_output_file("path", tmp_path / "file" / "w.npz")
    assert _listing(tmp_path) == ["file"]


def test_an_output_folder_is_created_and_removed_again(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b" / "c"
    assert check_output_dir("out", deep) == deep
    assert _listing(tmp_path) == []
    existing = tmp_path / "there"
    existing.mkdir()
    (existing / "keep").write_text("x")
    check_output_dir("out", existing)
    assert _listing(existing) == ["keep"]
    with pytest.raises(ValueError, match=r"^out: .* is not a directory"):
        check_output_dir("out", existing / "keep")
    with pytest.raises(ValueError, match=r"^out: cannot create .*not a directory"):
        check_output_dir("out", existing / "keep" / "sub")
    with pytest.raises(ValueError, match=r"^out: cannot create "):
        check_output_dir("out", "/dev/null/sub")


def test_argparse_types_use_the_same_proof(tmp_path: Path) -> None:
    import argparse
    assert output_file_argument(str(tmp_path / "w.npz")) == tmp_path / "w.npz"
    assert output_dir_argument(str(tmp_path / "d")) == tmp_path / "d"
    assert _listing(tmp_path) == []
    for path in UNWRITABLE:
        with pytest.raises(argparse.ArgumentTypeError, match=r"^cannot write "):
            output_file_argument(path)


@pytest.mark.parametrize("path", UNWRITABLE)
def test_save_refuses_before_writing(path: str) -> None:
    with pytest.raises(ValueError, match=r"^path: cannot write "):
        save(mlp(seed=0), path)


def test_save_leaves_only_the_file(tmp_path: Path) -> None:
    save(mlp(seed=0), tmp_path / "w.npz")
    assert _listing(tmp_path) == ["w.npz"]


@pytest.mark.parametrize("flag", ["--save", "--plot"])
@pytest.mark.parametrize("path", UNWRITABLE)
def test_train_never_trains_then_fails_on_its_output(flag: str, path: str, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("trained although the output path cannot be written")
    monkeypatch.setattr(cli, "train", no_training)
    assert cli.main(["train", "--epochs", "5", flag, path]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert f"error: argument {flag}: cannot write" in err and "Traceback" not in err


@pytest.mark.parametrize("path", UNWRITABLE)
def test_eval_plot_is_proven_before_reading_the_weights(path: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    weights = tmp_path / "w.npz"
    save(mlp(seed=0), weights)
    assert cli.main(["eval", "--weights", str(weights), "--plot", path]) == cli.EXIT_USAGE
    assert "error: argument --plot: cannot write" in capsys.readouterr().err


def test_a_save_that_fails_after_training_is_an_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The path was proven, then the disk filled up: one error line, exit 2, no traceback."""
    def full_disk(net: object, path: object) -> None:
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(refnet.io, "save", full_disk)
    code = cli.main(["train", "--epochs", "2", "--quiet", "--save", str(tmp_path / "w.npz")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    assert "error: could not write the output after training" in err and "No space left" in err
    assert _listing(tmp_path) == []


@pytest.mark.parametrize("path", UNWRITABLE)
def test_the_refusal_says_why_in_the_systems_words(path: str) -> None:
    with pytest.raises(ValueError) as info:
        check_output_file("out", path)
    message = str(info.value)
    assert message.startswith(f"out: cannot write '{path}' (") and message.endswith(")")
    assert "[Errno" not in message  # the reason (strerror), not the exception's repr


def test_input_files_are_named_too(tmp_path: Path) -> None:
    import argparse
    from refnet.validation import check_input_file, input_file_argument
    missing = tmp_path / "w.npz"
    with pytest.raises(ValueError) as info:
        check_input_file("weights", missing)
    assert str(info.value) == f"weights: '{missing}' is not an existing file"
    with pytest.raises(argparse.ArgumentTypeError) as arg_info:
        input_file_argument(str(missing))
    assert str(arg_info.value) == f"'{missing}' is not an existing file"  # argparse adds "argument --weights: "
    missing.write_bytes(b"")
    assert check_input_file("weights", str(missing)) == missing
    assert input_file_argument(str(missing)) == missing


def test_each_refusal_names_the_path(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    cases = [(tmp_path, f"out: '{tmp_path}' is a directory; expected a file path"),
             (tmp_path / "no" / "w.npz", f"out: folder '{tmp_path / 'no'}' does not exist (create it first)"),
             (tmp_path / "file" / "w.npz", f"out: '{tmp_path / 'file'}' is not a directory"),
             (Path("/dev/null"), "out: '/dev/null' exists and is not a regular file")]
    for path, words in cases:
        with pytest.raises(ValueError) as info:
            check_output_file("out", path)
        assert str(info.value) == words


def _refused_with(cases: list[tuple[Callable[[str], object], str, str]]) -> None:
    """Each argparse type refuses its text with exactly these words (argparse adds "argument --x: ")."""
    import argparse
    for convert, text, words in cases:
        with pytest.raises(argparse.ArgumentTypeError) as info:
            convert(text)
        assert str(info.value) == words


def test_real_argument_keeps_its_bounds_and_their_openness() -> None:
    import argparse
    from refnet.validation import real_argument
    positive, unit = real_argument(0.0, open_minimum=True), real_argument(0.0, 1.0, open_maximum=True)
    assert positive("1e-300") == 1e-300 and unit("0") == 0.0 and unit("0.5") == 0.5
    _refused_with([(positive, "0", "expected a finite number > 0, got 0.0"),
                   (positive, "-1", "expected a finite number > 0, got -1.0"),
                   (positive, "nan", "expected a finite number > 0, got nan"),
                   (unit, "1", "expected a finite number >= 0 and < 1, got 1.0"),
                   (unit, "-0.5", "expected a finite number >= 0 and < 1, got -0.5"),
                   (positive, "abc", "expected a number, got 'abc'")])
    closed = real_argument(1.0, 2.0)  # inclusive unless asked
    assert closed("1") == 1.0 and closed("2") == 2.0
    with pytest.raises(argparse.ArgumentTypeError, match=r"^expected a finite number >= 1 and <= 2, got 2.5$"):
        closed("2.5")
    assert real_argument()("-1e300") == -1e300


def test_int_argument_keeps_its_bounds_and_says_what_it_expected() -> None:
    from refnet.validation import int_argument
    bounded, floor = int_argument(1, 10), int_argument(0)
    assert bounded("1") == 1 and bounded("10") == 10 and floor("123456789") == 123456789
    _refused_with([(bounded, "0", "expected an integer >= 1, got 0"),
                   (bounded, "11", "expected an integer <= 10, got 11"),
                   (floor, "-1", "expected an integer >= 0, got -1"),
                   (bounded, "abc", "expected an integer, got 'abc'"),
                   (bounded, "1.5", "expected an integer, got '1.5'")])


def test_a_path_like_of_bytes_is_refused_by_name() -> None:
    from refnet.validation import check_path

    class BytesPath:
        def __fspath__(self) -> bytes:
            return b"w.npz"

    with pytest.raises(TypeError) as info:
        check_path("weights", BytesPath())
    assert str(info.value) == "weights: expected a str path, got b'w.npz'"


def test_output_folder_refusals_name_the_path(tmp_path: Path) -> None:
    import argparse
    (tmp_path / "keep").write_text("x")
    keep = tmp_path / "keep"
    for value, words in [(keep, f"'{keep}' is not a directory"),
                         (keep / "sub", f"cannot create '{keep / 'sub'}': '{keep}' is not a directory")]:
        with pytest.raises(ValueError) as info:
            check_output_dir("out", value)
        assert str(info.value) == f"out: {words}"
        with pytest.raises(argparse.ArgumentTypeError) as arg_info:
            output_dir_argument(str(value))
        assert str(arg_info.value) == words
    for path in UNWRITABLE:
        folder = str(Path(path).with_suffix("")) + "/sub"
        with pytest.raises(ValueError) as info:
            check_output_dir("out", folder)
        assert str(info.value).startswith(f"out: cannot create '{folder}' (") and "[Errno" not in str(info.value)
    with pytest.raises(argparse.ArgumentTypeError) as arg_info:
        output_file_argument(str(tmp_path))
    assert str(arg_info.value) == f"'{tmp_path}' is a directory; expected a file path"


def test_an_existing_file_is_proven_by_a_hidden_probe_in_its_folder(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A save writes a temporary file beside the target: the folder must take new files."""
    import tempfile
    probes: list[tuple[object, object]] = []
    real = tempfile.mkstemp

    def mkstemp(*args: object, **kwargs: object) -> tuple[int, str]:
        probes.append((kwargs.get("prefix"), kwargs.get("dir")))
        return real(*args, **kwargs)  # type: ignore[call-overload, no-any-return]
    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    (tmp_path / "w.npz").write_bytes(b"x")
    check_output_file("path", tmp_path / "w.npz")
    check_output_dir("out", tmp_path / "new")
    assert probes == [(".refnet-probe-", tmp_path), (".refnet-probe-", tmp_path / "new")]
    assert _listing(tmp_path) == ["w.npz"]


def test_a_path_of_the_wrong_type_is_named() -> None:
    from refnet.validation import check_input_file
    for check in (check_output_file, check_output_dir, check_input_file):
        with pytest.raises(TypeError) as info:
            check("where", 3)
        assert str(info.value) == "where: expected a file path (str or os.PathLike), got 3"


@pytest.mark.parametrize("folder", [p for p in ("/proc", "/sys") if Path(p).is_dir()])
def test_an_existing_folder_that_takes_no_files_is_named(folder: str) -> None:
    with pytest.raises(ValueError) as info:
        check_output_dir("out", folder)
    assert str(info.value).startswith(f"out: cannot create files in '{folder}' (")
