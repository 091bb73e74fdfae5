"""The dispatcher: errors are one line with exit status 2, never a traceback."""
import subprocess
import sys


def _run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "tensorloupe", *args],
                          capture_output=True, text=True, env=env)


def test_help_lists_subcommands():
    res = _run("--help")
    assert res.returncode == 0
    for name in ("show", "run", "scan", "inspect", "diff", "gui"):
        assert name in res.stdout


def test_window_without_display_is_a_clear_error():
    import os
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    res = _run(env=env)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1
    assert "no display" in res.stderr and "--screenshot" in res.stderr


def test_unexpected_exception_is_one_line(monkeypatch, capsys):
    from tensorloupe import command as main_mod
    import tensorloupe.core.cli.show as show

    def boom(args):
        raise ValueError("something we did not foresee")

    monkeypatch.setattr(show, "main", boom)
    monkeypatch.delenv("TENSORLOUPE_DEBUG", raising=False)
    assert main_mod.main(["show", "--dir", "."]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "internal error: ValueError: something we did not foresee" in err
