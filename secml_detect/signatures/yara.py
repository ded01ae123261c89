"""YARA rules compiled and run by YARA-X (optional extra ``yara-x``).

A :class:`YaraRules` condition holds rule **source text** (what is saved);
the compiled rules are rebuilt on first use. Each matching YARA rule gives a
hit whose id is ``<rule id>:<yara rule name>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .rules import Condition

__all__ = ["YaraRules", "compile_yara", "YARA_EXTERNALS"]

#: External variables THOR/LOKI define and some public rules use; defined empty.
YARA_EXTERNALS = {"filename": "", "filepath": "", "extension": "", "filetype": "", "owner": ""}


def _yara_x():
    try:
        import yara_x
    except ImportError as exc:  # pragma: no cover - optional extra
        raise ImportError("YARA rules need the optional 'yara-x' package: pip install yara-x") from exc
    return yara_x


def compile_yara(source: str, *, namespace: str = "default"):
    """Compile YARA source with YARA-X; raises ``yara_x.CompileError`` with the reason."""
    yx = _yara_x()
    compiler = yx.Compiler()
    for name, value in YARA_EXTERNALS.items():
        compiler.define_global(name, value)
    compiler.new_namespace(namespace)
    compiler.add_source(source)
    return compiler.build()


class _CompiledYara:
    def __init__(self, rules) -> None:
        yx = _yara_x()
        self.scanner = yx.Scanner(rules)
        self.scanner.set_timeout(5)

    def scan(self, data) -> list[str]:
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        try:
            result = self.scanner.scan(bytes(data))
        except Exception:  # noqa: BLE001 - a timeout on one item must not kill the batch
            return []
        return [r.identifier for r in result.matching_rules]


@dataclass(frozen=True)
class YaraRules(Condition):
    """YARA rule source scanned over byte/text fields of an event.

    Parameters
    ----------
    source : str
        YARA rule text (one file's worth).
    fields_ : tuple of str
        Event fields to scan.
    namespace : str
    """

    source: str
    fields_: tuple = ("payload", "content", "file_content")
    namespace: str = "default"

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields_", tuple(self.fields_))

    def compile(self) -> _CompiledYara:
        return _CompiledYara(compile_yara(self.source, namespace=self.namespace))

    def fields(self) -> set[str]:
        return set(self.fields_)

    def to_dict(self) -> dict:
        return {"yara": self.source, "fields": list(self.fields_), "namespace": self.namespace}


def load_yara_file(path, *, severity: str = "high") -> tuple[list, list[dict]]:
    """One rule holding a YARA file's source, after checking that it compiles.

    Returns ``(rules, errors)``; a file that does not compile gives no rule
    and one error with YARA-X's reason.
    """
    from pathlib import Path

    from .rules import Rule

    path = Path(path)
    source = path.read_text(encoding="utf-8", errors="replace")
    try:
        compile_yara(source, namespace=path.stem)
    except ImportError:
        raise
    except Exception as exc:  # noqa: BLE001 - yara_x.CompileError and friends
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [], [{"source": str(path), "line": None, "reason": first}]
    rule = Rule(f"yara:{path.stem}", YaraRules(source, namespace=path.stem), title=f"YARA {path.name}",
                severity=severity, kind="yara", provenance={"source": str(path), "format": "yara"})
    return [rule], []
