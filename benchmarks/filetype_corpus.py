"""Build a labelled, de-duplicated file-type corpus from this machine's files.

Usage::

    python benchmarks/filetype_corpus.py [--out /work/cache/filetype] [--cap 200]
        [--roots /usr /etc ...] [--extra LABEL=DIR ...] [--seed 0]

Ground truth comes only from reliable signals:

* **magic numbers** for binary formats (ELF, PE with a valid ``PE\\0\\0`` header,
  PNG, GIF, JPEG, PDF, ZIP, gzip, xz, bzip2, tar's ``ustar``, deb's
  ``!<arch>\\ndebian-binary``, Java class files, Python bytecode, fonts,
  gettext catalogues, SQLite...);
* **shebangs** for scripts (``#!/bin/sh``, ``#!/usr/bin/env python3`` ...);
* **extensions confirmed by content** for text formats (``.json`` must parse as
  JSON, ``.yaml`` as YAML and not as JSON, ``.py`` with :func:`ast.parse`,
  ``.toml`` with :mod:`tomllib`, ``.html`` must hold ``<html`` or a doctype,
  man pages must hold troff requests such as ``.TH``...).

Files with no reliable signal, or with two conflicting ones, are left out.

**De-duplication and split.** Exact duplicates (same SHA-256) are dropped.
Near-duplicates are grouped with a union-find over three keys: the hash of
the first 1 KiB, the hash of the last 512 bytes (what the detector sees), and
``(label, file stem, size bucket)`` (the same module shipped by several
Python versions). Derived and synthetic files join the group of their source.
Whole groups go to one side: ``split = "test"`` for groups whose key hash
falls in the lowest 30 %, else ``"train"``. So near-duplicates never sit on
both sides of the split.

**Derived and synthetic files** (where a type is rare on this machine), all
written under ``OUT/files``: troff pages decompressed from ``man*/*.gz``;
Java class files extracted from ``.jar`` archives; tar, xz and bzip2 made from
sampled corpus files; images (JPEG, PNG, GIF, BMP, ICO, TIFF, WebP) drawn
with Pillow; PDF, SVG and PostScript figures drawn with matplotlib; Ruby,
PowerShell and batch scripts from templates; extra PE files made by patching
the timestamp and appending an overlay to real PE files (same group as the
original). Each record says its ``source`` (``machine``, ``derived``,
``synthetic``).

``--extra LABEL=DIR`` adds every regular file under ``DIR`` with that label
(the way to add a new type with a few dozen examples, see the user guide).

The corpus is written OUTSIDE the repository: ``OUT/manifest.jsonl`` (one
record per file: path, label, source, group, split, size, sha256) and
``OUT/summary.json``. Files from the machine are referenced by path, not
copied.
"""

from __future__ import annotations

import argparse
import ast
import bz2
import collections
import configparser
import csv
import gzip
import hashlib
import io
import json
import lzma
import os
import random
import re
import stat
import sys
import tarfile
import time
import tomllib
import warnings
import zipfile
from pathlib import Path

import yaml

DEFAULT_OUT = "/work/cache/filetype"
DEFAULT_ROOTS = ["/usr", "/etc", "/opt", "/var/cache/apt/archives", "/root/.pyenv", "/work/venv"]
MAX_READ = 1 << 20  # content checks read at most 1 MiB
SKIP_DIRS = {"/proc", "/sys", "/dev", "/run", "/tmp"}

# --------------------------------------------------------------------------- magic numbers


def magic_label(head: bytes, size: int) -> str | None:
    """Label from a magic number, or None."""
    h = head
    if h.startswith(b"\x7fELF"):
        return "elf"
    if h.startswith(b"MZ") and len(h) >= 0x40:
        off = int.from_bytes(h[0x3C:0x40], "little")
        if off + 4 <= len(h) and h[off:off + 4] == b"PE\0\0":
            return "pe"
        return None
    if h[:4] in (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe"):
        return "macho"
    if h.startswith(b"\xca\xfe\xba\xbe") and len(h) >= 8:
        major = int.from_bytes(h[6:8], "big")
        if 45 <= major <= 80:
            return "javabytecode"
        if int.from_bytes(h[4:8], "big") < 30:
            return "macho"
        return None
    if h.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if h[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if h.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if h.startswith(b"BM") and len(h) >= 14 and int.from_bytes(h[2:6], "little") == size:
        return "bmp"
    if h[:4] == b"\0\0\1\0" and len(h) >= 6 and 0 < int.from_bytes(h[4:6], "little") < 64:
        return "ico"
    if h[:4] in (b"II*\0", b"MM\0*"):
        return "tiff"
    if h[:4] == b"RIFF" and h[8:12] == b"WEBP":
        return "webp"
    if h.startswith(b"%PDF-"):
        return "pdf"
    if h.startswith(b"%!PS"):
        return "postscript"
    if h[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if h.startswith(b"\x1f\x8b"):
        return "gzip"
    if h.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if h.startswith(b"BZh") and h[3:4].isdigit():
        return "bzip2"
    if len(h) >= 263 and h[257:262] == b"ustar":
        return "tar"
    if h.startswith(b"!<arch>\ndebian-binary"):
        return "deb"
    if h[:4] in (b"\0\1\0\0", b"true", b"OTTO") and len(h) >= 12 and 3 <= int.from_bytes(h[4:6], "big") < 64:
        return "ttf"
    if h.startswith(b"wOF2"):
        return "woff2"
    if h[:4] in (b"\xde\x12\x04\x95", b"\x95\x04\x12\xde"):
        return "mo"
    if h.startswith(b"SQLite format 3\0"):
        return "sqlite"
    if len(h) >= 16 and h[2:4] == b"\r\n" and 2900 <= int.from_bytes(h[:2], "little") <= 4000:
        return "pythonbytecode"
    return None


# --------------------------------------------------------------------------- text checks

SHEBANGS = [
    (re.compile(rb"^#!\s*\S*/(env\s+(-\S+\s+)*)?(ba|da|z|k|a)?sh\b"), "shell"),
    (re.compile(rb"^#!\s*\S*/(env\s+(-\S+\s+)*)?python[0-9.]*\b"), "python"),
    (re.compile(rb"^#!\s*\S*/(env\s+(-\S+\s+)*)?perl[0-9.]*\b"), "perl"),
    (re.compile(rb"^#!\s*\S*/(env\s+(-\S+\s+)*)?ruby[0-9.]*\b"), "ruby"),
    (re.compile(rb"^#!\s*\S*/(env\s+(-\S+\s+)*)?php[0-9.]*\b"), "php"),
    (re.compile(rb"^#!\s*\S*/(env\s+(-\S+\s+)*)?(node|nodejs)\b"), "javascript"),
    (re.compile(rb"^#!\s*\S*/(env\s+(-\S+\s+)*)?pwsh\b"), "powershell"),
    (re.compile(rb"^#!\s*\S*/(env\s+(-\S+\s+)*)?tclsh[0-9.]*\b"), "tcl"),
]

CPP_MARKERS = re.compile(rb"\b(class\s+\w+\s*[:{]|namespace\s+\w*\s*\{|template\s*<|std::|public:|private:)")


def is_text(data: bytes) -> bool:
    if not data or b"\0" in data[:8192]:
        return False
    try:
        data[:8192].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(data[:8192]) - 4:  # a cut multi-byte sequence at the end is fine
            return False
    ctrl = sum(1 for b in data[:8192] if b < 32 and b not in (9, 10, 12, 13, 27))
    return ctrl < 0.01 * min(len(data), 8192) + 1


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _loads_yaml(text: str):
    return yaml.load(text, Loader=yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader)


def check_text(label: str, name: str, data: bytes) -> bool:  # noqa: C901 - a table of checks
    """Is ``data`` (the file's content) really of text type ``label``?"""
    if not is_text(data):
        return False
    t = _text(data)
    low = t[:4096].lower()
    stripped = t.lstrip()
    try:
        if label == "python":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ast.parse(t)
            return len(t.strip()) > 0
        if label == "json":
            return isinstance(json.loads(t), (dict, list)) and len(t) > 2
        if label == "yaml":
            try:
                json.loads(t)
                return False
            except ValueError:
                pass
            return isinstance(_loads_yaml(t), (dict, list))
        if label == "toml":
            return len(tomllib.loads(t)) > 0
        if label == "ini":
            cp = configparser.ConfigParser(strict=False, interpolation=None)
            cp.read_string(t)
            return len(cp.sections()) > 0 and stripped.startswith(("[", "#", ";"))
    except Exception:  # noqa: BLE001 - any parse failure means "not confirmed"
        return False
    if label == "xml":
        return stripped.startswith("<") and "<svg" not in low and "<html" not in low
    if label == "svg":
        return "<svg" in low
    if label == "html":
        return "<html" in low or "<!doctype html" in low
    if label == "php":
        return "<?php" in t[:65536]
    if label == "perl":
        return bool(re.search(r"^\s*(use\s+\w|package\s+\w|sub\s+\w|my\s+[$@%])", t[:65536], re.M))
    if label == "shell":
        return bool(re.search(r"^\s*(if \[|for \w+ in|case |export |\w+=|echo |\. |set -)", t[:65536], re.M))
    if label == "javascript":
        return not stripped.startswith("<") and bool(
            re.search(r"\b(function|const|let|var|require\(|import|export|=>)", t[:65536]))
    if label == "c":
        return bool(re.search(r"^\s*#\s*(include|define|ifndef|if)\b", t[:65536], re.M)) and not CPP_MARKERS.search(data[:65536])
    if label == "cpp":
        return bool(re.search(r"^\s*#\s*(include|define|ifndef|pragma)\b", t[:65536], re.M)) and bool(CPP_MARKERS.search(data[:65536]))
    if label == "csv":
        lines = [ln for ln in t[:65536].splitlines() if ln.strip()][:50]
        if len(lines) < 3:
            return False
        try:
            dialect = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=",;\t|")
        except csv.Error:
            return False
        counts = {len(row) for row in csv.reader(lines[:-1], dialect)}
        return len(counts) == 1 and counts.pop() >= 2
    if label == "markdown":
        return bool(re.search(r"^(#{1,6} \S|```|\s*[-*] \S|.*\]\(\S+\))", t[:65536], re.M))
    if label == "rst":
        return bool(re.search(r"^(={3,}|-{3,}|~{3,}|\.\. \w+::)", t[:65536], re.M))
    if label == "troff":
        return bool(re.search(r"^\.(TH|Dd|SH|so|de)\b", t[:65536], re.M))
    if label == "css":
        return "{" in t and "}" in t and ":" in t and not stripped.startswith("<")
    if label == "diff":
        return bool(re.match(r"(diff |--- |Index: |From )", t)) and "\n+++ " in t or t.startswith("--- ") and "\n+++ " in t
    if label == "pem":
        return stripped.startswith("-----BEGIN ")
    if label == "sql":
        return bool(re.search(r"\b(create|insert|select|drop|alter)\b", low))
    if label == "makefile":
        return bool(re.search(r"^[\w.$()/%-]+\s*:", t, re.M)) and ("=" in t or "\t" in t)
    if label == "cmake":
        return bool(re.search(r"^\s*(set|if|include|function|macro|message|list|foreach)\s*\(", t, re.M | re.I))
    if label == "tcl":
        return bool(re.search(r"^\s*(proc|set|package|namespace|if)\s", t, re.M))
    if label == "po":
        return "msgid" in t and "msgstr" in t
    if label == "powershell":
        return bool(re.search(r"(\$\w+|param\s*\(|function\s+\w|[A-Z][a-z]+-[A-Z]\w+)", t))
    if label == "batch":
        return bool(re.search(r"(@echo|^\s*set\s|goto|%~|^\s*rem\s|^\s*if\s)", t, re.M | re.I))
    if label == "ruby":
        return bool(re.search(r"^\s*(def|class|module|require|puts|end)\b", t, re.M))
    if label == "txt":
        return not stripped.startswith(("<", "{", "[", "#!", "%", "---")) and len(t.strip()) > 20
    return False


EXT_LABELS = {
    ".py": "python", ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".ini": "ini",
    ".cfg": "ini", ".xml": "xml", ".svg": "svg", ".html": "html", ".htm": "html", ".php": "php",
    ".pl": "perl", ".pm": "perl", ".sh": "shell", ".bash": "shell", ".js": "javascript", ".mjs": "javascript",
    ".cjs": "javascript", ".c": "c", ".h": "c", ".cpp": "cpp", ".cc": "cpp", ".cxx": "cpp", ".hpp": "cpp",
    ".hh": "cpp", ".hxx": "cpp", ".csv": "csv", ".md": "markdown", ".rst": "rst", ".css": "css",
    ".diff": "diff", ".patch": "diff", ".pem": "pem", ".crt": "pem", ".sql": "sql", ".mk": "makefile",
    ".cmake": "cmake", ".tcl": "tcl", ".po": "po", ".ps1": "powershell", ".psm1": "powershell",
    ".bat": "batch", ".cmd": "batch", ".rb": "ruby", ".txt": "txt",
}
NAME_LABELS = {"Makefile": "makefile", "GNUmakefile": "makefile", "CMakeLists.txt": "cmake",
               "README": "txt", "LICENSE": "txt", "COPYING": "txt", "AUTHORS": "txt", "NEWS": "txt",
               "changelog": "txt", "THANKS": "txt"}


def candidate_text_label(path: str) -> str | None:
    name = os.path.basename(path)
    if name in NAME_LABELS:
        return NAME_LABELS[name]
    ext = os.path.splitext(name)[1].lower()
    if ext == ".h":
        return "c"  # c or cpp, decided by content
    return EXT_LABELS.get(ext)


def label_file(path: str, data: bytes, size: int) -> str | None:
    """Ground truth for one machine file (content = ``data``)."""
    m = magic_label(data[:4096], size)
    if m is not None:
        return m
    if data.startswith(b"#!"):
        first = data.split(b"\n", 1)[0]
        for rx, lab in SHEBANGS:
            if rx.match(first):
                return lab if check_text(lab, path, data) or lab not in ("shell",) else None
        return None
    lab = candidate_text_label(path)
    if lab is None:
        return None
    if lab == "c" and os.path.splitext(path)[1].lower() == ".h" and CPP_MARKERS.search(data[:65536]):
        lab = "cpp"
    return lab if check_text(lab, path, data) else None


# --------------------------------------------------------------------------- walking


def walk(roots: list[str]):
    seen = set()
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            if any(dirpath == s or dirpath.startswith(s + "/") for s in SKIP_DIRS):
                dirnames[:] = []
                continue
            for fn in filenames:
                p = os.path.join(dirpath, fn)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
                    continue
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    continue
                seen.add(key)
                yield p, st.st_size


def bucket_of(path: str, size: int) -> str:
    """A cheap pre-label used only to sample candidates evenly (verified later)."""
    name = os.path.basename(path)
    lab = candidate_text_label(path)
    if lab:
        return lab
    ext = os.path.splitext(name)[1].lower()
    if ext in (".gz",) and "/man/" in path:
        return "manpage"
    if ext in (".jar",):
        return "jar"
    if ext:
        return "ext" + ext
    if "/bin/" in path or "/sbin/" in path:
        return "bin"
    return "noext"


# --------------------------------------------------------------------------- synthetic


def _img(rng: random.Random):
    from PIL import Image, ImageDraw

    w, h = rng.randint(8, 640), rng.randint(8, 480)
    im = Image.new("RGB", (w, h), tuple(rng.randrange(256) for _ in range(3)))
    d = ImageDraw.Draw(im)
    for _ in range(rng.randint(1, 30)):
        box = sorted([rng.randrange(w), rng.randrange(w)]), sorted([rng.randrange(h), rng.randrange(h)])
        d.rectangle([box[0][0], box[1][0], box[0][1], box[1][1]], fill=tuple(rng.randrange(256) for _ in range(3)))
    if rng.random() < 0.5:
        import numpy as np

        noise = np.random.RandomState(rng.randrange(1 << 30)).randint(0, 256, (h, w, 3), dtype=np.uint8)
        im = Image.blend(im, Image.fromarray(noise), rng.random() * 0.5)
    return im


def synth_image(fmt: str, rng: random.Random) -> bytes:
    im = _img(rng)
    buf = io.BytesIO()
    if fmt == "jpeg":
        im.save(buf, "JPEG", quality=rng.randint(30, 95), progressive=rng.random() < 0.3,
                optimize=rng.random() < 0.3)
    elif fmt == "png":
        (im.convert("P") if rng.random() < 0.3 else im).save(buf, "PNG")
    elif fmt == "gif":
        im.convert("P").save(buf, "GIF")
    elif fmt == "bmp":
        im.save(buf, "BMP")
    elif fmt == "ico":
        im.resize((64, 64)).save(buf, "ICO", sizes=[(s, s) for s in rng.sample([16, 24, 32, 48, 64], rng.randint(1, 3))])
    elif fmt == "tiff":
        im.save(buf, "TIFF", compression=rng.choice([None, "tiff_lzw", "tiff_deflate"]))
    elif fmt == "webp":
        im.save(buf, "WEBP", quality=rng.randint(30, 95))
    return buf.getvalue()


def synth_figure(fmt: str, rng: random.Random) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    r = np.random.RandomState(rng.randrange(1 << 30))
    fig, ax = plt.subplots(figsize=(rng.uniform(2, 8), rng.uniform(2, 6)))
    kind = rng.randrange(3)
    if kind == 0:
        ax.plot(r.randn(rng.randint(5, 200)).cumsum())
    elif kind == 1:
        n = rng.randint(2, 20)
        ax.bar(range(n), r.rand(n))
    else:
        ax.scatter(r.rand(50), r.rand(50))
    ax.set_title(" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 5))))
    buf = io.BytesIO()
    fig.savefig(buf, format={"pdf": "pdf", "svg": "svg", "postscript": rng.choice(["ps", "eps"])}[fmt])
    plt.close(fig)
    return buf.getvalue()


WORDS = ("alpha beta gamma delta value count total user name path file data item list result error "
         "config server client request response token buffer index record report status level").split()


def _ident(rng):
    return "_".join(rng.choice(WORDS) for _ in range(rng.randint(1, 2)))


def synth_ruby(rng: random.Random) -> bytes:
    out = []
    if rng.random() < 0.5:
        out.append("#!/usr/bin/env ruby")
    if rng.random() < 0.4:
        out.append("# frozen_string_literal: true")
    for _ in range(rng.randint(0, 3)):
        out.append(f"require '{rng.choice(['json', 'set', 'fileutils', 'optparse', 'net/http', 'yaml'])}'")
    cls = _ident(rng).title().replace("_", "")
    out.append(f"\nmodule {cls}Tools" if rng.random() < 0.3 else "")
    out.append(f"class {cls}{' < StandardError' if rng.random() < 0.1 else ''}")
    out.append(f"  attr_reader :{_ident(rng)}, :{_ident(rng)}")
    for _ in range(rng.randint(1, 6)):
        a, b = _ident(rng), _ident(rng)
        out.append(f"\n  def {a}({b}, opts = {{}})")
        body = rng.choice([
            f"    @{a} ||= {b}.map {{ |x| x.to_s.strip }}",
            f"    {b}.each do |k, v|\n      puts \"#{{k}}: #{{v}}\"\n    end",
            f"    return nil if {b}.nil?\n    {b}.select {{ |e| e > {rng.randint(0, 99)} }}",
            f"    raise ArgumentError, '{a} missing' unless {b}\n    :{a}",
            f"    hash = {{ {a}: {b}, count: {rng.randint(1, 9)} }}\n    hash.fetch(:{a})",
        ])
        out.append(body)
        out.append("  end")
    out.append("end")
    if rng.random() < 0.5:
        out.append(f"\nif __FILE__ == $0\n  {cls}.new.{_ident(rng)}(ARGV)\nend")
    return ("\n".join(out) + "\n").encode()


def synth_powershell(rng: random.Random) -> bytes:
    out = []
    if rng.random() < 0.5:
        out.append("<#\n.SYNOPSIS\n    " + " ".join(rng.choice(WORDS) for _ in range(6)) + "\n#>")
    out.append("[CmdletBinding()]\nparam(\n    [Parameter(Mandatory=$true)]\n    [string]$" + _ident(rng).title().replace("_", "")
               + ",\n    [int]$Count = " + str(rng.randint(1, 100)) + "\n)")
    if rng.random() < 0.5:
        out.append("$ErrorActionPreference = 'Stop'")
    for _ in range(rng.randint(1, 5)):
        verb = rng.choice(["Get", "Set", "New", "Remove", "Invoke", "Test"])
        noun = _ident(rng).title().replace("_", "")
        out.append(f"\nfunction {verb}-{noun} {{\n    param([string]$Path)")
        out.append(rng.choice([
            "    Get-ChildItem -Path $Path -Recurse | Where-Object { $_.Length -gt 1kb } | ForEach-Object { $_.FullName }",
            f"    if (Test-Path $Path) {{\n        Write-Host \"{noun} found\"\n    }} else {{\n        Write-Error \"missing $Path\"\n    }}",
            "    $items = @()\n    foreach ($i in 1..$Count) { $items += \"item$i\" }\n    return $items",
            "    try {\n        Invoke-WebRequest -Uri $Path -OutFile \"$env:TEMP\\out.bin\"\n    } catch {\n        Write-Warning $_.Exception.Message\n    }",
            "    Set-Content -Path $Path -Value (Get-Date -Format 'yyyy-MM-dd')",
        ]))
        out.append("}")
    out.append(f"\n{rng.choice(['Get', 'Set', 'Invoke'])}-{_ident(rng).title().replace('_', '')} -Path $PSScriptRoot")
    return ("\r\n" if rng.random() < 0.5 else "\n").join(out).encode() + b"\n"


def synth_batch(rng: random.Random) -> bytes:
    out = ["@echo off"] if rng.random() < 0.8 else ["@ECHO OFF"]
    if rng.random() < 0.6:
        out.append("setlocal enabledelayedexpansion")
    if rng.random() < 0.5:
        out.append("rem " + " ".join(rng.choice(WORDS) for _ in range(5)))
    for _ in range(rng.randint(2, 10)):
        out.append(rng.choice([
            f"set {_ident(rng).upper()}=%~dp0{_ident(rng)}",
            f"if not exist \"%{_ident(rng).upper()}%\" mkdir \"%{_ident(rng).upper()}%\"",
            f"if \"%1\"==\"\" goto :{_ident(rng)}",
            f"for %%f in (*.{rng.choice(['txt', 'log', 'dll'])}) do echo %%f",
            f"call :{_ident(rng)} %*",
            f"echo {' '.join(rng.choice(WORDS) for _ in range(3))}",
            f"copy /y \"%~dp0{_ident(rng)}.exe\" \"%TEMP%\\\" >nul",
            "if errorlevel 1 exit /b %errorlevel%",
            f"\n:{_ident(rng)}\necho done\ngoto :eof",
        ]))
    out.append("endlocal" if rng.random() < 0.5 else "exit /b 0")
    return "\r\n".join(out).encode() + b"\r\n"


def mutate_pe(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    off = int.from_bytes(b[0x3C:0x40], "little")
    b[off + 8:off + 12] = rng.randrange(1 << 32).to_bytes(4, "little")  # TimeDateStamp
    overlay = bytes(rng.randrange(256) for _ in range(rng.randint(0, 4096)))
    return bytes(b) + overlay


# --------------------------------------------------------------------------- grouping


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict = {}

    def find(self, x):
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _h(b: bytes) -> str:
    return hashlib.sha1(b).hexdigest()[:16]


def read_content(path: str, limit: int = MAX_READ) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read(limit)
    except OSError:
        return None


def read_window_keys(path: str, size: int) -> tuple[str | None, str | None]:
    """Hashes of the head and tail windows; None for a low-information window
    (fewer than 8 distinct byte values, such as tar's zero padding), which
    would otherwise chain unrelated files of one format into one group."""
    with open(path, "rb") as fh:
        head = fh.read(1024)
        fh.seek(max(size - 512, 0))
        tail = fh.read(512)
    return (_h(head) if len(set(head)) >= 8 else None), (_h(tail) if len(set(tail)) >= 8 else None)


def main(argv=None) -> int:  # noqa: C901 - a linear pipeline
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--cap", type=int, default=200, help="files per label (default 200)")
    ap.add_argument("--roots", nargs="*", default=DEFAULT_ROOTS)
    ap.add_argument("--extra", nargs="*", default=[], help="LABEL=DIR: add every file under DIR with LABEL")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--test-share", type=float, default=0.3)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    out = Path(args.out)
    files_dir = out / "files"
    files_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    buckets: dict[str, list[tuple[str, int]]] = collections.defaultdict(list)
    for p, size in walk(args.roots):
        buckets[bucket_of(p, size)].append((p, size))
    print(f"walked {sum(map(len, buckets.values()))} files in {len(buckets)} buckets ({time.time() - t0:.0f}s)",
          file=sys.stderr)

    records: list[dict] = []
    by_label: dict[str, int] = collections.Counter()
    seen_sha: set[str] = set()
    cap = args.cap

    def add(path: str, label: str, source: str, data: bytes | None = None, group_hint: str | None = None,
            size: int | None = None, force: bool = False) -> bool:
        if by_label[label] >= cap and not force:
            return False
        if data is None:
            data = read_content(path)
            if data is None:
                return False
        sha = hashlib.sha256(data).hexdigest() if size is None or size <= len(data) else \
            hashlib.sha256(data + str(size).encode()).hexdigest()
        if sha in seen_sha:
            return False
        seen_sha.add(sha)
        records.append({"path": path, "label": label, "source": source, "sha256": sha,
                        "size": size if size is not None else len(data), "group_hint": group_hint})
        by_label[label] += 1
        return True

    def write_file(label: str, data: bytes, ext: str) -> str:
        d = files_dir / label
        d.mkdir(exist_ok=True)
        p = d / f"{hashlib.sha1(data).hexdigest()[:16]}{ext}"
        if not p.exists():
            p.write_bytes(data)
        return str(p)

    # 1. Machine files, sampled evenly per bucket, verified by content.
    bucket_names = sorted(buckets)
    for b in bucket_names:
        rng.shuffle(buckets[b])
    per_bucket_budget = cap * 6
    jars, manpages = [], []
    for b in bucket_names:
        if b == "jar":
            jars = buckets[b]
            continue
        if b == "manpage":
            manpages = buckets[b]
        tried = accepted = 0
        for p, size in buckets[b]:
            if tried >= per_bucket_budget or (tried >= 60 and accepted == 0):
                break
            tried += 1
            data = read_content(p, 65536)
            if data is None:
                continue
            if b == "manpage":
                accepted += add(p, "gzip", "machine", data, size=size)
                continue
            lab = magic_label(data[:4096], size)
            if lab is None and size > len(data):
                if size > 4 * MAX_READ or by_label[candidate_text_label(p) or "txt"] >= cap:
                    continue
                data = read_content(p) or b""
            lab = lab or label_file(p, data, size)
            if lab:
                accepted += add(p, lab, "machine", data, size=size)
    print(f"machine files: {len(records)} ({time.time() - t0:.0f}s)", file=sys.stderr)

    # 2. Derived: troff from man pages, class files from jars.
    for p, size in manpages:
        if by_label["troff"] >= cap:
            break
        try:
            with gzip.open(p, "rb") as fh:
                data = fh.read(MAX_READ)
        except (OSError, EOFError):
            continue
        if check_text("troff", p, data):
            add(write_file("troff", data, ".man"), "troff", "derived", data, group_hint=p)
    for p, size in jars:
        if by_label["javabytecode"] >= cap:
            break
        try:
            with zipfile.ZipFile(p) as zf:
                names = [n for n in zf.namelist() if n.endswith(".class")]
                for n in rng.sample(names, min(2, len(names))):
                    data = zf.read(n)
                    if magic_label(data[:64], len(data)) == "javabytecode":
                        add(write_file("javabytecode", data, ".class"), "javabytecode", "derived", data, group_hint=p)
        except (OSError, zipfile.BadZipFile, KeyError, ValueError):
            continue
        if by_label["zip"] < cap:
            add(p, "zip", "machine", size=size)

    # 3. Derived archives from sampled corpus files.
    pool = [r for r in records if r["size"] < 200_000 and r["source"] == "machine"]
    for label, fn, ext in (("xz", lzma.compress, ".xz"), ("bzip2", bz2.compress, ".bz2"),
                           ("gzip", gzip.compress, ".gz")):
        for r in rng.sample(pool, min(len(pool), cap * 2)):
            if by_label[label] >= cap:
                break
            data = read_content(r["path"])
            if data:
                z = fn(data)
                add(write_file(label, z, ext), label, "derived", z, group_hint=r["path"])
    while by_label["tar"] < cap and pool:
        members = rng.sample(pool, rng.randint(1, 5))
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=rng.choice([tarfile.GNU_FORMAT, tarfile.PAX_FORMAT,
                                                                    tarfile.USTAR_FORMAT])) as tf:
            for m in members:
                try:
                    tf.add(m["path"], arcname=os.path.relpath(m["path"], "/"))
                except (OSError, ValueError):
                    pass
        data = buf.getvalue()
        if magic_label(data[:4096], len(data)) == "tar":
            add(write_file("tar", data, ".tar"), "tar", "derived", data, group_hint=members[0]["path"])

    # 4. Synthetic types (rare here).
    gens = {lab: (lambda lab=lab: synth_image(lab, rng)) for lab in ("jpeg", "png", "gif", "bmp", "ico", "tiff", "webp")}
    gens.update({lab: (lambda lab=lab: synth_figure(lab, rng)) for lab in ("pdf", "svg", "postscript")})
    gens.update({"ruby": lambda: synth_ruby(rng), "powershell": lambda: synth_powershell(rng),
                 "batch": lambda: synth_batch(rng)})
    exts = {"jpeg": ".jpg", "png": ".png", "gif": ".gif", "bmp": ".bmp", "ico": ".ico", "tiff": ".tif", "webp": ".webp",
            "pdf": ".pdf", "svg": ".svg", "postscript": ".ps", "ruby": ".rb", "powershell": ".ps1", "batch": ".bat"}
    for lab, gen in gens.items():
        attempts = 0
        while by_label[lab] < cap and attempts < cap * 2:
            attempts += 1
            data = gen()
            add(write_file(lab, data, exts[lab]), lab, "synthetic", data)
    pes = [r for r in records if r["label"] == "pe"]
    attempts = 0
    while pes and by_label["pe"] < min(cap, 120) and attempts < 400:
        attempts += 1
        src = rng.choice(pes)
        data = mutate_pe(read_content(src["path"]) or b"", rng)
        add(write_file("pe", data, ".exe"), "pe", "synthetic", data, group_hint=src["path"])

    # 5. User extras.
    for spec in args.extra:
        label, _, d = spec.partition("=")
        for p, size in walk([d]):
            add(p, label, "extra", size=size, force=True)

    # 6. Near-duplicate groups and split.
    uf = UnionFind()
    for i, r in enumerate(records):
        try:
            hk, tk = read_window_keys(r["path"], r["size"])
        except OSError:
            hk = tk = f"missing{i}"
        node = ("rec", i)
        uf.find(node)
        if hk:
            uf.union(node, ("head", hk))
        if tk:
            uf.union(node, ("tail", tk))
        stem = os.path.basename(r["path"]).split(".")[0]
        if r["source"] in ("machine", "extra"):
            uf.union(node, ("stem", r["label"], stem, int(2 * (r["size"] + 1).bit_length())))
        if r.get("group_hint"):
            uf.union(node, ("path", r["group_hint"]))
        uf.union(node, ("path", r["path"]))
    roots: dict = {}
    for i, r in enumerate(records):
        root = uf.find(("rec", i))
        gid = roots.setdefault(root, len(roots))
        r["group"] = gid
        key = int(hashlib.sha1(f"{args.seed}:{root}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        r["split"] = "test" if key < args.test_share else "train"
        r.pop("group_hint", None)
    with open(out / "manifest.jsonl", "w") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")
    counts = collections.Counter((r["label"], r["split"]) for r in records)
    summary = {
        "n_files": len(records), "n_groups": len(roots), "seed": args.seed, "cap": cap, "roots": args.roots,
        "labels": {lab: {"train": counts[(lab, "train")], "test": counts[(lab, "test")],
                         "sources": dict(collections.Counter(r["source"] for r in records if r["label"] == lab))}
                   for lab in sorted(by_label)},
        "built": time.strftime("%Y-%m-%d %H:%M:%S"), "seconds": round(time.time() - t0, 1),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    for lab, v in summary["labels"].items():
        print(f"{lab:16s} train {v['train']:4d} test {v['test']:4d} {v['sources']}", file=sys.stderr)
    print(f"{len(records)} files, {len(roots)} groups, {time.time() - t0:.0f}s -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
