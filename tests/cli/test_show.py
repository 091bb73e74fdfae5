"""`tensorloupe show` prints what `saved_model_cli show` printed, for every fixture and mode.

The expected texts were recorded from TensorFlow's saved_model_cli by
tests/fixtures/build_saved_models.py and build_show_extra.py. Two things TensorFlow prints
in an order that changes from run to run (a Python set of op names, and the keys of
dict-valued arguments) are compared as sets.

One more order is not reproducible without TensorFlow: the "Option #n" blocks of a function
traced several times. saved_model_cli sorts them by the names the functions get while
TensorFlow loads them (``__inference_f_<uid>``, a process-wide counter, compared as
strings, so ``_106`` sorts before ``_19``). We list them in the loader's import order, which
agrees while the uids have the same number of digits. Those blocks are compared as a
multiset; every model whose functions have one trace each must match byte for byte.
"""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tensorloupe.command import main as cli_main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"
MODELS = FIXTURES / "saved_models"
EXPECTED = FIXTURES / "expected"

_SET_LINE = re.compile(r"^(.*(?:the following ops:|denylisted ops:)) (\{.*\}|set\(\))$")
_DICT_VALUE = re.compile(r"^(\s*Value: )\{(.*)\x08\x08\}$")


def _split_top_level(text: str) -> list[str]:
    """Split "a, b, " at commas outside brackets and quotes."""
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    tail = text[start:].strip()
    if tail:
        parts.append(tail)
    return parts


_OPTION = re.compile(r"^    Option #\d+$")


def _sort_options(lines: list[str]) -> list[str]:
    """Within each "Function Name" block, sort the Option blocks (numbers dropped)."""
    out, i = [], 0
    while i < len(lines):
        if not _OPTION.match(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        blocks = []
        while i < len(lines) and _OPTION.match(lines[i]):
            j = i + 1
            while j < len(lines) and lines[j].startswith("      "):
                j += 1
            blocks.append(tuple(lines[i + 1:j]))
            i = j
        for block in sorted(blocks):
            out.append("    Option #?")
            out.extend(block)
    return out


def normalize(text: str) -> list:
    """Lines of saved_model_cli output, with run-to-run orderings made comparable."""
    out = []
    for line in _sort_options(text.split("\n")):
        m = _SET_LINE.match(line)
        if m:
            out.append((m.group(1), frozenset(ast.literal_eval(m.group(2)))))
            continue
        m = _DICT_VALUE.match(line)
        if m:
            out.append((m.group(1), tuple(sorted(_split_top_level(m.group(2))))))
            continue
        out.append(line)
    return out


def model_dirs() -> list[str]:
    if not EXPECTED.is_dir():
        return []
    return sorted(p.name for p in EXPECTED.iterdir()
                  if (p / "show_all.txt").is_file() and (MODELS / p.name).is_dir()
                  and any((MODELS / p.name / f).is_file()
                          for f in ("saved_model.pb", "saved_model.pbtxt")))


def _slugs(model: Path) -> dict[str, str]:
    """tag slug (sorted tags joined by "_", as the fixture builder names files) -> --tag_set."""
    import tensorloupe.core as core
    sm = core.open_saved_model(model)
    return {"_".join(sorted(tags)): ",".join(tags) for tags in sm.tag_sets}


def cases() -> list[tuple[str, str]]:
    out = []
    for name in model_dirs():
        for f in sorted((EXPECTED / name).glob("*.txt")):
            if f.name.startswith(("show", "list_ops_")) or f.name == "scan.txt":
                out.append((name, f.name))
    return out


def args_for(name: str, filename: str) -> list[str]:
    model = MODELS / name
    d = str(model)
    stem = filename[:-len(".txt")]
    if stem == "show":
        return ["show", "--dir", d]
    if stem == "show_all":
        return ["show", "--dir", d, "--all"]
    if stem == "scan":
        return ["scan", "--dir", d]
    slugs = _slugs(model)
    for prefix, extra in (("show_tag_set_", []), ("list_ops_", ["--list_ops"])):
        if stem.startswith(prefix) and stem[len(prefix):] in slugs:
            return ["show", "--dir", d, "--tag_set", slugs[stem[len(prefix):]], *extra]
    if stem.startswith("show_signature_"):
        rest = stem[len("show_signature_"):]
        for slug, tag_arg in slugs.items():
            if rest.startswith(slug + "__"):
                return ["show", "--dir", d, "--tag_set", tag_arg,
                        "--signature_def", rest[len(slug) + 2:]]
    pytest.fail(f"cannot tell which command produced {name}/{filename}")


def run_cli(argv, capsys) -> tuple[int, str, str]:
    code = cli_main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_fixtures_exist():
    names = model_dirs()
    assert {"half_plus_two", "half_plus_two_pbtxt", "show_polymorphic",
            "show_tf1_composite"} <= set(names)
    assert len(cases()) > 20
    assert len(_single_trace_models()) >= 5


@pytest.mark.parametrize("name,filename", cases())
def test_same_text_as_saved_model_cli(name, filename, capsys):
    expected = (EXPECTED / name / filename).read_text()
    code, out, err = run_cli(args_for(name, filename), capsys)
    assert code == 0, err
    assert normalize(out) == normalize(expected)


def _single_trace_models() -> list[str]:
    import tensorloupe.core as core
    out = []
    for name in model_dirs():
        sm = core.open_saved_model(MODELS / name)
        if all(len(f.options) <= 1 for mg in sm.meta_graphs for f in mg.concrete_functions()):
            out.append(name)
    return out


@pytest.mark.parametrize("name", _single_trace_models())
def test_show_all_has_byte_exact_lines(name, capsys):
    """Outside the two unordered prints, the text is identical, byte for byte."""
    expected = (EXPECTED / name / "show_all.txt").read_text()
    _, out, _ = run_cli(["show", "--dir", str(MODELS / name), "--all"], capsys)

    def strip(text):
        return [line for line in text.split("\n")
                if not _SET_LINE.match(line) and not _DICT_VALUE.match(line)]
    assert strip(out) == strip(expected)


def test_list_ops_without_tag_set_warns_then_lists_tag_sets(capsys):
    d = str(MODELS / "half_plus_two")
    code, out, _ = run_cli(["show", "--dir", d, "--list_ops"], capsys)
    assert code == 0
    expected = (EXPECTED / "half_plus_two" / "show.txt").read_text()
    assert out == "--list_ops must be paired with a tag-set or with --all.\n" + expected


def test_flag_equals_value_and_absl_booleans(capsys):
    d = str(MODELS / "half_plus_two")
    _, plain, _ = run_cli(["show", "--dir", d, "--all"], capsys)
    _, eq, _ = run_cli(["show", f"--dir={d}", "--all=true"], capsys)
    assert eq == plain
    _, off, _ = run_cli(["show", f"--dir={d}", "--all=false"], capsys)
    assert off == (EXPECTED / "half_plus_two" / "show.txt").read_text()
    _, noall, _ = run_cli(["show", f"--dir={d}", "--noall"], capsys)
    assert noall == off


def test_directory_or_saved_model_pb_path(capsys):
    d = MODELS / "half_plus_two"
    _, by_dir, _ = run_cli(["show", "--dir", str(d), "--all"], capsys)
    _, by_file, _ = run_cli(["show", "--dir", str(d / "saved_model.pb"), "--all"], capsys)
    assert by_dir == by_file


# ---------------------------------------------------------------- bad input

def _one_line_error(code, out, err):
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_unknown_tag_set(capsys):
    d = str(MODELS / "half_plus_two")
    line = _one_line_error(*run_cli(["show", "--dir", d, "--tag_set", "nope"], capsys))
    assert "MetaGraphDef associated with tag-set nope could not be found" in line
    assert "'serve'" in line and "'train'" in line


def test_unknown_signature(capsys):
    d = str(MODELS / "half_plus_two")
    code, out, err = run_cli(["show", "--dir", d, "--tag_set", "serve",
                              "--signature_def", "nope"], capsys)
    line = _one_line_error(code, out, err)
    assert 'Could not find signature "nope". Please choose from: ' in line
    assert "serving_default" in line


def test_empty_tag_set(capsys):
    d = str(MODELS / "half_plus_two")
    line = _one_line_error(*run_cli(["show", "--dir", d, "--tag_set", ","], capsys))
    assert "tag_set must contain at least one non-empty item." in line


def test_empty_directory(tmp_path, capsys):
    line = _one_line_error(*run_cli(["show", "--dir", str(tmp_path)], capsys))
    assert str(tmp_path) in line and "empty" in line


def test_missing_directory(tmp_path, capsys):
    line = _one_line_error(*run_cli(["show", "--dir", str(tmp_path / "absent")], capsys))
    assert "no such file or directory" in line


def _copy_model(tmp_path) -> Path:
    dst = tmp_path / "model"
    shutil.copytree(MODELS / "half_plus_two", dst)
    return dst


def test_truncated_saved_model_pb(tmp_path, capsys):
    model = _copy_model(tmp_path)
    pb = model / "saved_model.pb"
    data = pb.read_bytes()
    pb.write_bytes(data[: len(data) // 2])
    line = _one_line_error(*run_cli(["show", "--dir", str(model), "--all"], capsys))
    assert str(pb) in line and "not a SavedModel" in line


def test_garbage_saved_model_pb(tmp_path, capsys):
    model = _copy_model(tmp_path)
    pb = model / "saved_model.pb"
    data = bytearray(pb.read_bytes())
    data[:16] = b"\xff" * 16        # an impossible field key at the very start
    pb.write_bytes(bytes(data))
    line = _one_line_error(*run_cli(["show", "--dir", str(model)], capsys))
    assert str(pb) in line


def test_empty_saved_model_pb(tmp_path, capsys):
    model = _copy_model(tmp_path)
    (model / "saved_model.pb").write_bytes(b"")
    line = _one_line_error(*run_cli(["show", "--dir", str(model)], capsys))
    assert "empty" in line


def test_garbage_pbtxt(tmp_path, capsys):
    dst = tmp_path / "m"
    shutil.copytree(MODELS / "half_plus_two_pbtxt", dst)
    f = dst / "saved_model.pbtxt"
    f.write_text(f.read_text()[:500] + "\n}}} not text format {{{")
    line = _one_line_error(*run_cli(["show", "--dir", str(dst)], capsys))
    assert "not a text-format SavedModel" in line


def test_console_command_exit_status_and_no_traceback(tmp_path):
    """The installed entry point, as a user runs it: exit 2 and one line on stderr."""
    res = subprocess.run([sys.executable, "-m", "tensorloupe", "show", "--dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert res.stdout == ""
