import subprocess
import sys

import pytest

import secml_detect
from secml_detect.cli import main


def test_public_names_resolve():
    for name in secml_detect.__all__:
        assert getattr(secml_detect, name) is not None


def test_unknown_attribute():
    with pytest.raises(AttributeError):
        secml_detect.NoSuchThing


def test_import_is_lazy():
    code = "import sys, secml_detect; print('sklearn' in sys.modules, 'numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_cli_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert secml_detect.__version__ in capsys.readouterr().out


def test_cli_help_lists_subcommands(capsys):
    assert main([]) == 0
    assert "usage: secml-detect" in capsys.readouterr().out


def test_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "secml_detect", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "secml-detect" in out.stdout
