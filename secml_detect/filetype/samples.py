"""Small synthetic samples of common types, and the robustness suite.

Everything here is made with the standard library (archives with
:mod:`zipfile`, :mod:`tarfile`, :mod:`gzip`, :mod:`bz2`, :mod:`lzma`; a PNG
with :mod:`zlib`; bytecode with :func:`compile` and :mod:`marshal`) or written
inline, so tests, examples and the robustness benchmark run on any machine
without data files. The one embedded binary is a 16x16 JPEG made for this
project.

:func:`robustness_cases` builds the disguises attackers use: random bytes
before an archive, a ZIP appended to a JPEG, a script whose comments mention
other languages, NUL padding, truncated files, empty and one-byte files. Each
case lists the answers that count as correct; ``"unknown"`` always counts as
safe (the detector abstained).
"""

from __future__ import annotations

import base64
import bz2
import gzip
import importlib.util
import io
import json
import lzma
import marshal
import random
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass

__all__ = ["make_samples", "robustness_cases", "RobustnessCase"]

_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hnPk1xeXBkeFxl"
    "Z2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAAQABADASIAAhEB"
    "AxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS"
    "0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKz"
    "tLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgEC"
    "BAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpj"
    "ZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6"
    "/9oADAMBAAIRAxEAPwDn7ex6cVp29j04rTt7HpxWnb2PTiqq4sMvx22p/9k=")

_PY = '''"""Inventory helpers."""
import json
import os


class Inventory:
    def __init__(self, path):
        self.path = path
        self.items = {}

    def load(self):
        if os.path.exists(self.path):
            with open(self.path) as fh:
                self.items = json.load(fh)
        return self

    def total(self):
        return sum(item["count"] for item in self.items.values())


if __name__ == "__main__":
    print(Inventory("stock.json").load().total())
'''

_SHELL = '''#!/bin/sh
# Rotate the logs of the service and keep the last five.
set -e
LOG_DIR="${LOG_DIR:-/var/log/myservice}"
for f in "$LOG_DIR"/*.log; do
    [ -e "$f" ] || continue
    i=4
    while [ $i -ge 1 ]; do
        if [ -f "$f.$i" ]; then mv "$f.$i" "$f.$((i + 1))"; fi
        i=$((i - 1))
    done
    mv "$f" "$f.1" && : > "$f"
done
echo "rotated $(ls "$LOG_DIR" | wc -l) files"
'''

_PERL = '''#!/usr/bin/perl
use strict;
use warnings;

my %count;
while (my $line = <STDIN>) {
    chomp $line;
    my ($user, $action) = split /\\s+/, $line;
    $count{$user}++ if defined $action;
}
foreach my $user (sort keys %count) {
    printf "%-20s %d\\n", $user, $count{$user};
}
'''

_PHP = '''<?php
declare(strict_types=1);

namespace App\\Controller;

use App\\Model\\User;

final class UserController
{
    public function show(int $id): string
    {
        $user = User::find($id);
        if ($user === null) {
            http_response_code(404);
            return json_encode(['error' => 'not found']);
        }
        return json_encode(['id' => $user->id, 'name' => $user->name]);
    }
}
'''

_JS = '''const express = require("express");
const app = express();

function parseLimit(value, fallback = 20) {
  const n = Number.parseInt(value, 10);
  return Number.isNaN(n) ? fallback : Math.min(n, 100);
}

app.get("/api/items", async (req, res) => {
  const limit = parseLimit(req.query.limit);
  const items = await db.items.find({}).limit(limit).toArray();
  res.json({ items, count: items.length });
});

module.exports = app;
'''

_C = '''#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_SIZE 4096

static size_t count_lines(FILE *fp)
{
    char buf[BUF_SIZE];
    size_t n, lines = 0;
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0) {
        for (size_t i = 0; i < n; i++)
            if (buf[i] == '\\n')
                lines++;
    }
    return lines;
}

int main(int argc, char **argv)
{
    FILE *fp = argc > 1 ? fopen(argv[1], "r") : stdin;
    if (fp == NULL) {
        perror("fopen");
        return EXIT_FAILURE;
    }
    printf("%zu\\n", count_lines(fp));
    return EXIT_SUCCESS;
}
'''

_HTML = '''<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Quarterly report</title>
  <link rel="stylesheet" href="style.css">
</head>
<body>
  <h1>Quarterly report</h1>
  <p>Revenue grew in every region. See the <a href="details.html">details</a>.</p>
  <ul>
    <li>North: 12%</li>
    <li>South: 8%</li>
  </ul>
</body>
</html>
'''

_XML = '''<?xml version="1.0" encoding="UTF-8"?>
<catalog>
  <book id="bk101">
    <author>Gambardella, Matthew</author>
    <title>XML Developer's Guide</title>
    <price>44.95</price>
  </book>
  <book id="bk102">
    <author>Ralls, Kim</author>
    <title>Midnight Rain</title>
    <price>5.95</price>
  </book>
</catalog>
'''

_SVG = '''<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="120" height="120" viewBox="0 0 120 120">
  <rect x="10" y="10" width="100" height="100" fill="#3366cc" stroke="black"/>
  <circle cx="60" cy="60" r="30" fill="white"/>
</svg>
'''

_YAML = '''name: build
on:
  push:
    branches: [main]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: Run tests
        run: |
          pip install -e .
          pytest -q
'''

_MARKDOWN = '''# Project title

A short description of what this project does.

## Installation

```bash
pip install project
```

## Usage

* run `project --help`
* read the [documentation](https://example.org/docs)
'''

_CSV = "id,name,department,salary\n" + "".join(
    f"{i},employee{i},{['sales', 'it', 'hr'][i % 3]},{40000 + 1000 * i}\n" for i in range(1, 30))

_TXT = ('This is a plain text note about the meeting on Monday. We agreed to move the release by one week, '
        'because the documentation is not finished yet and two bugs are still open.\n\nPlease send your '
        'comments before Friday. Thanks to everyone who helped with the tests.\n')

_TROFF = '''.TH ROTATE 8 "March 2024" "rotate 1.0" "System Administration"
.SH NAME
rotate \\- rotate service logs
.SH SYNOPSIS
.B rotate
[\\fB\\-n\\fR \\fIcount\\fR]
.SH DESCRIPTION
.B rotate
renames each log file and keeps the last
.I count
copies.
.SH OPTIONS
.TP
.BR \\-n " " \\fIcount\\fR
Number of copies to keep.
'''

_PDF = b'''%PDF-1.4
1 0 obj
<< /Type /Catalog /Pages 2 0 R >>
endobj
2 0 obj
<< /Type /Pages /Kids [3 0 R] /Count 1 >>
endobj
3 0 obj
<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << >> >>
endobj
4 0 obj
<< /Length 44 >>
stream
BT /F1 24 Tf 100 700 Td (Hello) Tj ET
endstream
endobj
xref
0 5
0000000000 65535 f 
0000000009 00000 n 
0000000058 00000 n 
0000000115 00000 n 
0000000220 00000 n 
trailer
<< /Size 5 /Root 1 0 R >>
startxref
313
%%EOF
'''


def _png(width: int = 24, height: int = 16) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\0" + bytes(v for x in range(width) for v in (x * 10 % 256, y * 15 % 256, 128))
                    for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _gif() -> bytes:
    # 2x2 image, 2-colour global table, LZW minimum code size 2.
    return (b"GIF89a\x02\x00\x02\x00\x80\x00\x00\xff\x00\x00\x00\x00\xff"
            b"!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x02\x00\x02\x00\x00\x02\x03\x84\x1d\x05\x00;")


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _pyc(source: str) -> bytes:
    code = compile(source, "inventory.py", "exec")
    return importlib.util.MAGIC_NUMBER + b"\0\0\0\0" + struct.pack("<II", 1_700_000_000, len(source)) + marshal.dumps(code)


def _elf(rng: random.Random) -> bytes:
    """A small x86-64 ELF executable layout: headers, interpreter, dynamic strings, code,
    section-name table and section headers (not runnable, but shaped like the real thing)."""
    names = [b"", b".interp", b".dynsym", b".dynstr", b".text", b".rodata", b".data", b".bss", b".shstrtab"]
    shstrtab = b"\0".join(names) + b"\0"
    interp = b"/lib64/ld-linux-x86-64.so.2\0"
    dynstr = b"\0libc.so.6\0puts\0__libc_start_main\0__cxa_finalize\0GLIBC_2.2.5\0GLIBC_2.34\0"
    code = bytes(rng.choice([0x48, 0x89, 0xE5, 0x83, 0xEC, 0x8B, 0x45, 0xC3, 0x00, 0xE8, 0x0F, 0x1F, 0x55, 0x5D,
                             0x31, 0xC0, 0xFF, 0x25]) for _ in range(2500))
    rodata = b"hello from the sample\0usage: %s FILE\n\0"
    n_sh = len(names)
    body = interp + dynstr + code + rodata + shstrtab
    shoff = 64 + 56 * 2 + len(body)
    ident = b"\x7fELF\x02\x01\x01\x00" + bytes(8)
    header = ident + struct.pack("<HHIQQQIHHHHHH", 3, 62, 1, 0x1060, 64, shoff, 0, 64, 56, 2, 64, n_sh, n_sh - 1)
    phdrs = struct.pack("<IIQQQQQQ", 6, 4, 64, 64, 64, 112, 112, 8)
    phdrs += struct.pack("<IIQQQQQQ", 1, 5, 0, 0, 0, shoff, shoff, 0x1000)
    sections = bytes(64)  # the null section
    offset, name_off = 176, 1
    for name, data in zip(names[1:], [interp, b"", dynstr, code, rodata, b"", b"", shstrtab]):
        sections += struct.pack("<IIQQQQIIQQ", name_off, 1, 2, offset, offset, len(data), 0, 0, 8, 0)
        name_off += len(name) + 1
        offset += len(data)
    return header + phdrs + body + sections


def make_samples(seed: int = 0) -> dict[str, bytes]:
    """One synthetic sample per type: ``{label: content}``.

    Examples
    --------
    >>> s = make_samples()
    >>> s["png"][:8], s["gzip"][:2]
    (b'\\x89PNG\\r\\n\\x1a\\n', b'\\x1f\\x8b')
    """
    rng = random.Random(seed)
    text = {"python": _PY, "shell": _SHELL, "perl": _PERL, "php": _PHP, "javascript": _JS, "c": _C,
            "html": _HTML, "xml": _XML, "svg": _SVG, "yaml": _YAML, "markdown": _MARKDOWN, "csv": _CSV,
            "txt": _TXT, "troff": _TROFF}
    out = {k: v.encode() for k, v in text.items()}
    out["json"] = json.dumps({"users": [{"id": i, "name": f"user{i}", "active": i % 2 == 0,
                                          "tags": ["a", "b"]} for i in range(12)]}, indent=2).encode()
    payload = (_PY + _C + _TXT).encode()
    out.update({
        "pdf": _PDF, "png": _png(), "gif": _gif(), "jpeg": _JPEG, "elf": _elf(rng),
        "zip": _zip({"inventory.py": _PY.encode(), "README.md": _MARKDOWN.encode(), "data.csv": _CSV.encode()}),
        "tar": _tar({"src/inventory.py": _PY.encode(), "src/main.c": _C.encode()}),
        "gzip": gzip.compress(payload, mtime=0), "bzip2": bz2.compress(payload), "xz": lzma.compress(payload),
        "pythonbytecode": _pyc(_PY),
    })
    return out


@dataclass(frozen=True)
class RobustnessCase:
    """One disguised input: ``accept`` lists the correct labels (``"unknown"`` is always safe)."""

    name: str
    content: bytes
    accept: tuple[str, ...]


def robustness_cases(seed: int = 0) -> list[RobustnessCase]:
    """The robustness suite (about 60 cases).

    Examples
    --------
    >>> cases = robustness_cases()
    >>> len(cases) >= 50, {c.name.split(":")[0] for c in cases} >= {"prefix", "polyglot", "nul", "truncated"}
    (True, True)
    """
    rng = random.Random(seed)
    s = make_samples(seed)
    cases: list[RobustnessCase] = []
    archives = ("zip", "gzip", "bzip2", "xz", "tar")
    for label in archives:
        for n in (1, 7, 64, 512):
            cases.append(RobustnessCase(f"prefix:{label}+{n}", bytes(rng.randrange(256) for _ in range(n)) + s[label],
                                        (label,)))
    cases.append(RobustnessCase("polyglot:jpeg+zip", s["jpeg"] + s["zip"], ("jpeg", "zip")))
    cases.append(RobustnessCase("polyglot:png+zip", s["png"] + s["zip"], ("png", "zip")))
    cases.append(RobustnessCase("polyglot:gif+zip", s["gif"] + s["zip"], ("gif", "zip")))
    cases.append(RobustnessCase("polyglot:pdf+zip", s["pdf"] + s["zip"], ("pdf", "zip")))
    misleading = [
        ("shell", "#!/bin/sh\n# import os, sys  -- this is not python\n# <?php echo 'no'; ?>\n# #include <stdio.h>\n"),
        ("python", "#!/usr/bin/env python3\n# #!/bin/sh echo this is a shell script\n# <html><body>not html</body></html>\n"),
        ("perl", "#!/usr/bin/perl\n# def main(): pass  (not python)\n# function f() { return 1; }\n"),
        ("javascript", "// #!/bin/bash\n// import os\n// <?php system($_GET['c']); ?>\n"),
        ("c", "/* #!/usr/bin/env python\n * import sys\n * echo $HOME\n */\n"),
    ]
    for label, comment in misleading:
        body = s[label].decode()
        if body.startswith("#!"):
            body = body.split("\n", 1)[1]
        cases.append(RobustnessCase(f"misleading:{label}", (comment + body).encode(), (label,)))
    for label in ("pdf", "zip", "png", "elf", "python", "shell", "json", "gzip"):
        cases.append(RobustnessCase(f"nul:{label}+tail", s[label] + bytes(4096), (label,)))
    cases.append(RobustnessCase("nul:only", bytes(2048), ()))
    for label in ("pdf", "zip", "png", "jpeg", "elf", "gzip", "xz", "bzip2", "tar", "pythonbytecode",
                  "html", "json", "python", "shell", "xml"):
        data = s[label]
        cut = max(16, len(data) // 3)
        cases.append(RobustnessCase(f"truncated:{label}", data[:cut], (label,)))
    cases.append(RobustnessCase("empty", b"", ("empty",)))
    for b in (b"a", b"\n", b"\0", b"\xff", b"{", b"#"):
        cases.append(RobustnessCase(f"one-byte:{b!r}", b, ("txt",)))
    return cases
