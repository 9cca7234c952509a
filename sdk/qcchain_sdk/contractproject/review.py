"""Contract security review (REQUIREMENTS T-9.2.4): static analysis of contract sources with :mod:`ast`.

Chaincode runs on every endorsing peer and their results must agree, so anything that makes two
executions of the same transaction differ, leaks across transactions, or bypasses governance is a hazard.
Rules (id, severity):

* ``QC101`` high — wall clock (``time.time``, ``datetime.now``, ``date.today``, ...); use the tx timestamp.
* ``QC102`` high — randomness (``random``, ``secrets``, ``uuid.uuid1/uuid4``, ``os.urandom``).
* ``QC103`` high — I/O inside contract code (``open``, sockets, ``requests``, ``urllib``, ``subprocess``,
  ``os.system``, ``os.environ``/``os.getenv``); ``__main__.py`` and functions named ``main`` may read config.
* ``QC104`` high (sets) / medium (dict views) — iteration order feeding a ledger write; wrap in ``sorted``.
* ``QC105`` high in a transaction / medium elsewhere — global mutable state (``global``, mutating a
  module-level container or a class attribute container) that survives between transactions.
* ``QC106`` medium — unbounded range / partial-key / rich query without pagination.
* ``QC107`` high — a submit transaction that never reaches the governance check ``require_serving``
  (directly, via ``before_transaction`` or through a helper, by name, anywhere in the reviewed tree).
* ``QC108`` high — a stub call inside ``try`` whose broad handler swallows the error (no ``raise``).
* ``QC109`` high — ``eval``/``exec``/``compile``/``__import__`` (code from data).
* ``QC100`` high — the file does not parse.
"""

from __future__ import annotations

import ast
import logging
from dataclasses import dataclass
from pathlib import Path

from .package import source_files

log = logging.getLogger(__name__)

__all__ = ["Finding", "RULES", "review_source", "review_tree", "has_high"]

RULES: dict[str, str] = {
    "QC100": "syntax error", "QC101": "nondeterminism: wall clock", "QC102": "nondeterminism: randomness",
    "QC103": "I/O in contract code", "QC104": "unordered iteration feeding writes",
    "QC105": "global mutable state across transactions", "QC106": "unbounded range scan without pagination",
    "QC107": "submit transaction without governance check", "QC108": "stub error caught and swallowed",
    "QC109": "dynamic code execution",
}
CLOCK = {"time.time", "time.time_ns", "time.monotonic", "time.monotonic_ns", "time.perf_counter",
         "time.perf_counter_ns", "time.localtime", "time.gmtime", "time.ctime", "time.asctime", "time.strftime",
         "datetime.datetime.now", "datetime.datetime.utcnow", "datetime.datetime.today", "datetime.date.today"}
RANDOM_PREFIXES = ("random.", "secrets.", "numpy.random.")
RANDOM = {"uuid.uuid1", "uuid.uuid4", "os.urandom", "os.getrandom"}
IO_PREFIXES = ("socket.", "requests.", "urllib.", "http.client.", "subprocess.", "httpx.", "aiohttp.", "shutil.")
IO = {"open", "io.open", "os.system", "os.popen", "os.environ", "os.getenv", "os.putenv", "os.remove",
      "os.unlink", "os.listdir", "os.fork", "os.execv", "os.execvp", "input"}
DYNAMIC = {"eval", "exec", "compile", "__import__", "importlib.import_module"}
UNBOUNDED = {"get_state_by_range", "get_state_by_partial_composite_key", "get_private_data_by_range",
             "get_private_data_by_partial_composite_key", "get_query_result", "get_private_data_query_result"}
WRITE_PREFIXES = ("put_", "del_", "purge_", "set_event", "set_state_validation", "set_private_data_validation",
                  "record_event", "store_")
MUTATORS = {"append", "extend", "insert", "update", "setdefault", "add", "pop", "popitem", "remove", "discard",
            "clear", "__setitem__"}
MUTABLE_CALLS = {"list", "dict", "set", "defaultdict", "OrderedDict", "Counter", "deque", "bytearray"}
BROAD = {"Exception", "BaseException", "ShimError", "ChaincodeError", "PeerError", "RuntimeError"}
GOVERNANCE_CHECK = "require_serving"


@dataclass(frozen=True)
class Finding:
    """One hazard: where, which rule, how bad, what."""

    path: str
    line: int
    col: int
    rule: str
    severity: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.rule} {self.severity}: {self.message}"


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _last_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _is_transaction(func: ast.FunctionDef) -> tuple[bool, bool]:
    """(is a @transaction, is a submit transaction)."""
    for deco in func.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        if _last_name(target) != "transaction":
            continue
        evaluate = isinstance(deco, ast.Call) and any(
            kw.arg == "evaluate" and isinstance(kw.value, ast.Constant) and kw.value.value is True for kw in deco.keywords)
        return True, not evaluate
    return False, False


def _calls(node: ast.AST) -> set[str]:
    return {_last_name(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)} - {""}


def _is_write(call: ast.Call) -> bool:
    return _last_name(call.func).startswith(WRITE_PREFIXES)


def _is_stub_call(call: ast.Call) -> bool:
    name = _dotted(call.func) or ""
    return ".stub." in f".{name}" or name.startswith("stub.")


def _mutable_value(node: ast.AST | None) -> bool:
    if isinstance(node, (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)):
        return True
    return isinstance(node, ast.Call) and _last_name(node.func) in MUTABLE_CALLS


class _Module(ast.NodeVisitor):
    """Walks one module, collecting findings; ``governed`` = names of functions reaching the check."""

    def __init__(self, path: str, tree: ast.Module, governed: set[str]) -> None:
        self.path, self.tree, self.governed = path, tree, governed
        self.findings: list[Finding] = []
        self.aliases: dict[str, str] = {}
        self.func_stack: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
        self.tx_stack: list[bool] = []
        self.shared: set[str] = set()  # module-level / class-level mutable containers
        self.is_main = Path(path).name == "__main__.py"

    def add(self, node: ast.AST, rule: str, severity: str, message: str) -> None:
        self.findings.append(Finding(self.path, getattr(node, "lineno", 0), getattr(node, "col_offset", 0) + 1,
                                     rule, severity, message))

    def resolve(self, node: ast.AST) -> str | None:
        dotted = _dotted(node)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        base = self.aliases.get(head, head)
        return f"{base}.{rest}" if rest else base

    # ------------------------------------------------------------------ structure
    def run(self) -> list[Finding]:
        for stmt in self.tree.body:
            self._collect_shared(stmt)
        self.visit(self.tree)
        return self.findings

    def _collect_shared(self, stmt: ast.stmt, prefix: str = "") -> None:
        if isinstance(stmt, ast.Assign) and _mutable_value(stmt.value):
            self.shared |= {prefix + t.id for t in stmt.targets if isinstance(t, ast.Name)}
        elif isinstance(stmt, ast.AnnAssign) and _mutable_value(stmt.value) and isinstance(stmt.target, ast.Name):
            self.shared.add(prefix + stmt.target.id)
        elif isinstance(stmt, ast.ClassDef) and not prefix:
            for inner in stmt.body:
                self._collect_shared(inner, "self.")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.aliases[(alias.asname or alias.name).split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and not node.level:
            for alias in node.names:
                self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        before = next((f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "before_transaction"), None)
        guarded = before is not None and bool(_calls(before) & (self.governed | {GOVERNANCE_CHECK}))
        for func in node.body:
            if isinstance(func, ast.FunctionDef):
                is_tx, submit = _is_transaction(func)
                if submit and not guarded and not (_calls(func) & (self.governed | {GOVERNANCE_CHECK})):
                    self.add(func, "QC107", "high", f"submit transaction {node.name}.{func.name} never calls "
                             f"{GOVERNANCE_CHECK} (frozen/destroyed state and the approved package are not enforced)")
        self.generic_visit(node)

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        is_tx = _is_transaction(node)[0] if isinstance(node, ast.FunctionDef) else False
        self.func_stack.append(node)
        self.tx_stack.append(is_tx or (bool(self.tx_stack) and self.tx_stack[-1]))
        self.generic_visit(node)
        self.func_stack.pop()
        self.tx_stack.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    @property
    def in_function(self) -> bool:
        return bool(self.func_stack)

    @property
    def in_transaction(self) -> bool:
        return bool(self.tx_stack) and self.tx_stack[-1]

    def _io_allowed(self) -> bool:
        return self.is_main or any(f.name == "main" for f in self.func_stack)

    # ------------------------------------------------------------------ rules
    def visit_Call(self, node: ast.Call) -> None:
        name = self.resolve(node.func) or ""
        if name in CLOCK:
            self.add(node, "QC101", "high", f"{name}() reads the wall clock; use the transaction timestamp")
        elif name in RANDOM or name.startswith(RANDOM_PREFIXES):
            self.add(node, "QC102", "high", f"{name}() is random: endorsing peers would disagree")
        elif name in DYNAMIC:
            self.add(node, "QC109", "high", f"{name}() executes code built at run time")
        elif (name in IO or name.startswith(IO_PREFIXES)) and self.in_function and not self._io_allowed():
            self.add(node, "QC103", "high", f"{name}() does I/O inside contract code; peers may see different results")
        last = _last_name(node.func)
        if last in UNBOUNDED and self.in_function:
            self.add(node, "QC106", "medium", f"{last}() scans without a bound; use {last}_with_pagination")
        if last in MUTATORS and self.in_function:
            self._shared_mutation(node, _dotted(node.func.value) if isinstance(node.func, ast.Attribute) else None)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.ctx, ast.Load) and self.resolve(node) == "os.environ" and self.in_function \
                and not self._io_allowed():
            self.add(node, "QC103", "high", "os.environ read inside contract code; configuration differs per peer")
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        if self.in_function:
            severity = "high" if self.in_transaction else "medium"
            self.add(node, "QC105", severity, f"global {', '.join(node.names)}: state kept in the process "
                     "survives between transactions and differs between peers")

    def _shared_mutation(self, node: ast.AST, target: str | None) -> None:
        if target and target in self.shared:
            severity = "high" if self.in_transaction else "medium"
            self.add(node, "QC105", severity, f"mutates shared container {target}, which survives between transactions")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            if isinstance(target, ast.Subscript) and self.in_function:
                self._shared_mutation(node, _dotted(target.value))
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if self.in_function:
            base = node.target.value if isinstance(node.target, ast.Subscript) else node.target
            self._shared_mutation(node, _dotted(base))
        self.generic_visit(node)

    def visit_For(self, node: ast.For) -> None:
        kind = self._unordered(node.iter)
        if kind and any(isinstance(n, ast.Call) and _is_write(n) for stmt in node.body for n in ast.walk(stmt)):
            severity = "high" if kind == "set" else "medium"
            self.add(node, "QC104", severity, f"iterates a {kind} and writes inside the loop; "
                     "iterate sorted(...) so every peer writes in the same order")
        self.generic_visit(node)

    @staticmethod
    def _unordered(node: ast.AST) -> str | None:
        if isinstance(node, (ast.Set, ast.SetComp)):
            return "set"
        if isinstance(node, ast.Call):
            name = _last_name(node.func)
            if name in ("set", "frozenset"):
                return "set"
            if name in ("keys", "values", "items") and isinstance(node.func, ast.Attribute):
                owner = _last_name(node.func.value)
                return None if owner.isupper() else "dict view"  # a module constant keeps source order
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitOr, ast.BitAnd, ast.Sub, ast.BitXor)):
            return _Module._unordered(node.left) or _Module._unordered(node.right)
        return None

    def visit_Try(self, node: ast.Try) -> None:
        stub_calls = [n for stmt in node.body for n in ast.walk(stmt) if isinstance(n, ast.Call) and _is_stub_call(n)]
        if stub_calls:
            for handler in node.handlers:
                names = {_last_name(t) for t in (handler.type.elts if isinstance(handler.type, ast.Tuple)
                                                 else [handler.type])} if handler.type else {"(bare)"}
                reraises = any(isinstance(n, ast.Raise) for stmt in handler.body for n in ast.walk(stmt))
                if (names & (BROAD | {"(bare)"})) and not reraises:
                    self.add(handler, "QC108", "high", f"except {'/'.join(sorted(names))} swallows errors of "
                             f"stub calls (line {stub_calls[0].lineno}); the transaction would commit a partial result")
        self.generic_visit(node)

    visit_TryStar = visit_Try


def _governed_functions(trees: list[ast.Module]) -> set[str]:
    """Names of functions that reach ``require_serving``, transitively, across the reviewed tree."""
    calls: dict[str, set[str]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                calls.setdefault(node.name, set()).update(_calls(node))
    governed = {GOVERNANCE_CHECK}
    changed = True
    while changed:
        grown = {name for name, called in calls.items() if called & governed}
        changed = not grown <= governed
        governed |= grown
    return governed


def review_source(source: str, path: str = "<source>", governed: set[str] | None = None) -> list[Finding]:
    """Review one module's source; ``governed`` as from the whole tree (default: this module alone).

    Raises:
        Nothing: a syntax error is reported as a ``QC100`` finding.
    """
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        return [Finding(path, exc.lineno or 0, exc.offset or 0, "QC100", "high", f"syntax error: {exc.msg}")]
    names = governed if governed is not None else _governed_functions([tree])
    return sorted(_Module(path, tree, names).run(), key=lambda f: (f.path, f.line, f.col, f.rule))


def review_tree(root: Path) -> list[Finding]:
    """Review every contract source under ``root`` (tests, caches, virtualenvs excluded).

    Raises:
        ProjectError: ``root`` is not a directory or holds no Python source.
        OSError: a source cannot be read.
    """
    root = Path(root)
    sources = {p: p.read_text(encoding="utf-8", errors="replace") for p in source_files(root)}
    trees = []
    for text in sources.values():
        try:
            trees.append(ast.parse(text))
        except SyntaxError:
            continue
    governed = _governed_functions(trees)
    findings: list[Finding] = []
    for path, text in sources.items():
        findings += review_source(text, path.relative_to(root.parent).as_posix(), governed)
    log.info("reviewed %d files: %d findings", len(sources), len(findings))
    return findings


def has_high(findings: list[Finding]) -> bool:
    """Whether any finding is high severity."""
    return any(f.severity == "high" for f in findings)
