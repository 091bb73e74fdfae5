"""`tensorloupe scan` prints what `saved_model_cli scan` printed (sets compared as sets)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tensorloupe.command import main as cli_main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"
MODELS = FIXTURES / "saved_models"
EXPECTED = FIXTURES / "expected"
_SET_LINE = re.compile(r"^(MetaGraph with tag set .* ops:) (\{.*\}|set\(\))$")


def parse(text: str) -> list:
    out = []
    for line in text.splitlines():
        m = _SET_LINE.match(line)
        assert m, f"not a scan line: {line!r}"
        out.append((m.group(1), frozenset(ast.literal_eval(m.group(2)))))
    return out


def scanned_models() -> list[str]:
    if not EXPECTED.is_dir():
        return []
    return sorted(p.parent.name for p in EXPECTED.glob("*/scan.txt")
                  if (MODELS / p.parent.name).is_dir())


def run(argv, capsys):
    code = cli_main(argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.mark.parametrize("name", scanned_models())
def test_scan_matches_saved_model_cli(name, capsys):
    code, out, err = run(["scan", "--dir", str(MODELS / name)], capsys)
    assert code == 0, err
    assert parse(out) == parse((EXPECTED / name / "scan.txt").read_text())


def _ops(name, tags):
    import tensorloupe.core as core
    return core.open_saved_model(MODELS / name).meta_graph(tags).ops_used()


def test_denylist_hit_and_tag_set(capsys):
    # Deny two ops the recorded list_ops output says the serve graph uses, plus one it does not.
    listed = (EXPECTED / "half_plus_two" / "list_ops_serve.txt").read_text().splitlines()[0]
    used = sorted(ast.literal_eval(listed.split(" ops: ", 1)[1]))
    deny = f"{used[0]}, {used[1]},NotAnOp,"
    code, out, _ = run(["scan", "--dir", str(MODELS / "half_plus_two"), "--tag_set", "serve",
                        "--op_denylist", deny], capsys)
    assert code == 0
    assert parse(out) == [("MetaGraph with tag set ['serve'] contains the following denylisted ops:",
                           frozenset(used[:2]))]


def test_custom_denylist_without_hits_prints_the_list(capsys):
    code, out, _ = run(["scan", "--dir", str(MODELS / "half_plus_two"),
                        "--op_denylist", "Foo,Bar"], capsys)
    assert code == 0
    lines = parse(out)
    assert len(lines) == 3
    assert all(s == {"Foo", "Bar"} and "does not contain the default" in h for h, s in lines)


def test_empty_denylist_means_default(capsys):
    _, a, _ = run(["scan", "--dir", str(MODELS / "half_plus_two"), "--op_denylist", ""], capsys)
    _, b, _ = run(["scan", "--dir", str(MODELS / "half_plus_two")], capsys)
    assert a == b


def test_unknown_tag_set_is_one_line_error(capsys):
    code, out, err = run(["scan", "--dir", str(MODELS / "half_plus_two"), "--tag_set", "x"],
                         capsys)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_unsupported_ops_lists_ops_the_engine_lacks(fixtures_dir, capsys):
    """show_tf1_composite (written by TensorFlow) sums a SparseTensor: SparseReduceSum has no
    kernel yet, so --unsupported_ops names it and exits 1; keras_mlp runs fully and exits 0."""
    from tensorloupe.command import main as cli_main
    from tensorloupe.core.engine.registry import lookup

    models = fixtures_dir / "saved_models"
    assert lookup("SparseReduceSum") is None  # if a kernel lands, pick another missing op
    rc = cli_main(["scan", "--dir", str(models / "show_tf1_composite"), "--unsupported_ops"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "uses 1 op(s) tensorloupe cannot run:" in out
    assert "  SparseReduceSum: " in out

    rc = cli_main(["scan", "--dir", str(models / "keras_mlp"), "--unsupported_ops"])
    out = capsys.readouterr().out
    assert rc == 0
    assert out.endswith("MetaGraph with tag set ['serve']: every op can be run by tensorloupe\n")
