"""Fetch and build, once: Kafka jars through Maven, the FerretDB wrapper through Go.

Each product sits next to a stamp holding the hash of its recipe, so a second run is a no-op
and a changed recipe rebuilds.
"""

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

from local_infra.paths import FERRETDB_RECIPE, KAFKA_RECIPE, cache_dir


class ProvisionError(RuntimeError):
    """A tool is missing or a fetch/build failed; the message says which and how to fix it."""


def _recipe_hash(*files: Path) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _up_to_date(stamp: Path, wanted: str) -> bool:
    return stamp.is_file() and stamp.read_text().strip() == wanted


def _require(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ProvisionError(f"{tool} is not on PATH: {hint}")
    return path


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run ``cmd``; its standard output, or a ``ProvisionError`` with the last lines."""
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise ProvisionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{tail}")
    return result.stdout


def kafka_lib_dir() -> Path:
    """The broker's classpath directory, fetched from Maven Central on first use."""
    target = cache_dir() / "kafka"
    lib = target / "lib"
    pom = KAFKA_RECIPE / "pom.xml"
    wanted = _recipe_hash(pom)
    stamp = target / "stamp"
    if _up_to_date(stamp, wanted) and any(lib.glob("kafka_2.13-*.jar")):
        return lib
    mvn = _require("mvn", "install Maven (apt-get install maven) and Java 17+")
    _require("java", "install Java 17+ (apt-get install openjdk-17-jre-headless)")
    shutil.rmtree(lib, ignore_errors=True)
    lib.mkdir(parents=True)
    _run(
        [
            mvn,
            "-B",
            "-q",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={lib}",
            "-DincludeScope=runtime",
        ],
        cwd=KAFKA_RECIPE,
    )
    stamp.write_text(wanted)
    return lib


def real_mongod() -> str | None:
    """A ``mongod`` on PATH, which is preferred to FerretDB (unless XERO_SYNC_FORCE_FERRETDB=1)."""
    if os.environ.get("XERO_SYNC_FORCE_FERRETDB") == "1":
        return None
    return shutil.which("mongod")


def mongo_command() -> list[str]:
    """The MongoDB-wire server to run: a real ``mongod`` if present, else FerretDB."""
    return [real_mongod() or str(ferretdb_binary())]


def ferretdb_binary() -> Path:
    """The FerretDB wrapper binary, built from the Go module proxy on first use, against a
    copy of FerretDB whose SQLite backend reads ``_id`` conditions, and equality, sort and
    count queries on indexed fields, through SQLite's indexes (see
    ``deploy/local/ferretdb/sqlite-patch``)."""
    target = cache_dir() / "ferretdb"
    binary = target / "ferretdb-local"
    sources = [FERRETDB_RECIPE / "go.mod", FERRETDB_RECIPE / "go.sum"]
    sources += sorted(FERRETDB_RECIPE.glob("*.go")) + sorted(PATCH_DIR.glob("*.go"))
    wanted = _recipe_hash(*sources, Path(__file__))
    stamp = target / "stamp"
    if _up_to_date(stamp, wanted) and binary.is_file():
        return binary
    go = _require("go", "install Go 1.24+ (https://go.dev/doc/install or apt-get install golang)")
    target.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CGO_ENABLED": "0"}
    patched = _patched_ferretdb(go, target / "FerretDB", env)
    # The recipe's go.mod stays as it is; the build reads a copy that replaces FerretDB.
    modfile = target / "build.mod"
    recipe = (FERRETDB_RECIPE / "go.mod").read_text()
    modfile.write_text(f"{recipe}\nreplace {FERRETDB_MODULE} => {patched}\n")
    shutil.copyfile(FERRETDB_RECIPE / "go.sum", target / "build.sum")
    _run(
        [go, "build", "-trimpath", f"-modfile={modfile}", "-o", str(binary), "."],
        cwd=FERRETDB_RECIPE,
        env=env,
    )
    stamp.write_text(wanted)
    return binary


FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
PATCH_DIR = FERRETDB_RECIPE / "sqlite-patch"
# FerretDB's own _id pushdown, once in its SQLite Query and once in Explain.
_ID_PUSHDOWN = re.compile(
    r'\tif params\.Filter\.Len\(\) == 1 \{\n\t\tv, _ := params\.Filter\.Get\("_id"\)\n.*?\n\t\}\n',
    re.DOTALL,
)


# Where each file of sqlite-patch goes in FerretDB's module.
_PATCH_FILES = {
    "id_pushdown.go": "internal/backends/sqlite",
    "index_pushdown.go": "internal/backends/sqlite",
    "index_hints.go": "internal/backends",
    "index_handler.go": "internal/handler",
    "update_batch.go": "internal/handler",
    "sql_debug.go": "internal/util/fsql",
    "resource_tracking.go": "internal/util/resource",
}
_FIND_DEBUG = (
    '\th.L.DebugContext(ctx, fmt.Sprintf("Converted %+v for %+v to %+v.", params, cInfo, qp))\n'
)
# Exact edits of FerretDB's own files (file, text, replacement), each text found exactly once:
# the hints travel from the handler to the SQLite backend and back (see index_pushdown.go).
_EDITS = [
    (
        "internal/backends/collection.go",
        "\tOnlyRecordIDs bool\n\tComment       string\n}\n",
        "\tOnlyRecordIDs bool\n\tComment       string\n\n\tIndex *IndexHint // ferretdb-local\n}\n",
    ),
    (
        "internal/backends/collection.go",
        "type QueryResult struct {\n\tIter types.DocumentsIterator\n}\n",
        "type QueryResult struct {\n\tIter types.DocumentsIterator\n\n"
        "\tIndexOrdered bool // ferretdb-local: Iter is ordered by Index.Sort's first field\n"
        "\tIndexCounted bool // ferretdb-local: Iter holds the $group's output\n}\n",
    ),
    (
        "internal/backends/sqlite/collection.go",
        "func (c *collection) Query(ctx context.Context, params *backends.QueryParams) "
        "(*backends.QueryResult, error) {\n",
        "func (c *collection) queryScan(ctx context.Context, params *backends.QueryParams) "
        "(*backends.QueryResult, error) {\n",
    ),
    (
        "internal/handler/msg_find.go",
        _FIND_DEBUG,
        "\tif !h.DisablePushdown {\n\t\tqp.Index = findIndexHint(params)\n\t}\n\n" + _FIND_DEBUG,
    ),
    (
        "internal/handler/msg_find.go",
        "\titer, err := h.makeFindIter(queryRes.Iter, closer, params)\n",
        "\titer, err := h.makeFindIter(indexBounded(queryRes, params), closer, params)\n",
    ),
    (
        "internal/handler/msg_aggregate.go",
        "\t\titer, err = processStagesDocuments(ctx, closer, "
        "&stagesDocumentsParams{c, qp, stagesDocuments})\n",
        "\t\tif !h.DisablePushdown {\n"
        "\t\t\tqp.Index = countIndexHint(document, aggregationStages)\n\t\t}\n\n"
        "\t\titer, err = processStagesDocuments(ctx, closer, "
        "&stagesDocumentsParams{c, qp, stagesDocuments})\n",
    ),
    (
        "internal/handler/msg_aggregate.go",
        "\tcloser.Add(queryRes.Iter)\n\n\titer := queryRes.Iter\n",
        "\tcloser.Add(queryRes.Iter)\n\n\tif queryRes.IndexCounted {\n"
        "\t\treturn queryRes.Iter, nil\n\t}\n\n\titer := queryRes.Iter\n",
    ),
    # An update command's statements each read their document through a query that held a
    # pooled SQLite connection until the whole command ended (a defer in the loop): a few
    # concurrent commands of 25 statements took all 100 and deadlocked the database (seen
    # with 20 organisations syncing at once). Each statement now closes its own read.
    (
        "internal/handler/msg_update.go",
        "\t\tcloser := iterator.NewMultiCloser()\n\t\tdefer closer.Close()\n",
        "\t\tcloser := iterator.NewMultiCloser() // ferretdb-local: closed below, per statement\n",
    ),
    (
        "internal/handler/msg_update.go",
        '\t\tresult, err := common.UpdateDocument(ctx, c, "update", iter, &u)\n',
        '\t\tresult, err := common.UpdateDocument(ctx, c, "update", iter, &u)\n'
        "\t\tcloser.Close()\n",
    ),
    # An update command's changed documents are written in one transaction (update_batch.go).
    (
        "internal/handler/msg_update.go",
        "func (h *Handler) updateDocument(ctx context.Context, params *common.UpdateParams) "
        "(int32, int32, *types.Array, error) {\n",
        "func (h *Handler) updateStatements(ctx context.Context, params *common.UpdateParams, "
        "batch *updateBatch) (int32, int32, *types.Array, error) {\n",
    ),
    (
        "internal/handler/msg_update.go",
        "\t\tres, err := c.Query(ctx, &qp)\n",
        "\t\tc = batch.over(c) // ferretdb-local: see update_batch.go\n\n"
        "\t\tres, err := c.Query(ctx, &qp)\n",
    ),
    (
        "internal/handler/msg_buildinfo.go",
        '\t\t\t\t"aggregationStages", aggregationStages,\n',
        '\t\t\t\t"aggregationStages", aggregationStages,\n'
        '\t\t\t\t"indexPushdown", indexPushdownOn(), // ferretdb-local\n'
        '\t\t\t\t"updateReadsClosed", true, // ferretdb-local: see msg_update.go\n'
        '\t\t\t\t"updateBatched", true, // ferretdb-local: see update_batch.go\n',
    ),
    # Lifetimes are still tracked, but not in pprof profiles (resource_tracking.go): the
    # stack each profile entry captured was 13% of the server's CPU under updates.
    (
        "internal/util/resource/resource.go",
        "\tp.Add(token, 1)\n",
        "\tif profiled {\n\t\tp.Add(token, 1)\n\t}\n",
    ),
    (
        "internal/util/resource/resource.go",
        "\tp.Remove(token)\n",
        "\tif profiled {\n\t\tp.Remove(token)\n\t}\n",
    ),
]

# Every SQL statement's debug log goes through sql_debug.go, which formats the statement's
# arguments only when debug logging is on (each wrapper logs before and after: 3 wrappers each).
_SQL_DEBUG_CALLS = 6
_SQL_DEBUG_EDITS = [
    (
        f"internal/util/fsql/{name}.go",
        f"\t{name}.l.With(fields...).DebugContext(ctx, ",
        f"\tdebugSQL(ctx, {name}.l, fields, ",
    )
    for name in ("db", "tx")
]


def _patched_ferretdb(go: str, copy: Path, env: dict[str, str]) -> Path:
    """A writable copy of the FerretDB module the recipe requires, patched with
    ``sqlite-patch``: its two ``_id`` pushdown blocks call ``idWhere``, and its find and
    aggregate commands pass index hints to the SQLite backend (``_EDITS``). Fails if
    FerretDB's code is no longer the one the patch was written for."""
    version = _required_version(FERRETDB_RECIPE / "go.mod", FERRETDB_MODULE)
    download = _run(
        [go, "mod", "download", "-json", f"{FERRETDB_MODULE}@{version}"],
        cwd=FERRETDB_RECIPE,
        env=env,
    )
    _remove(copy)
    shutil.copytree(json.loads(download)["Dir"], copy)
    _make_writable(copy)  # the module cache is read-only
    collection = copy / "internal" / "backends" / "sqlite" / "collection.go"

    def use_id_where(match: re.Match[str]) -> str:
        call = "\twhereClause, args = idWhere(params.Filter)\n"
        if "filterPushdown = true" in match.group(0):  # Explain reports what was pushed down
            return call + '\tfilterPushdown = whereClause != ""\n'
        return call

    text, count = _ID_PUSHDOWN.subn(use_id_where, collection.read_text())
    if count != 2:
        raise ProvisionError(
            f"FerretDB {version}'s SQLite _id pushdown is not the one sqlite-patch expects "
            f"({count} of 2 blocks found in {collection}); update the patch for this version"
        )
    collection.write_text(text)
    apply_edits(copy, _EDITS, version)
    apply_edits(copy, _SQL_DEBUG_EDITS, version, times=_SQL_DEBUG_CALLS)
    for name, where in _PATCH_FILES.items():
        shutil.copyfile(PATCH_DIR / name, copy / where / name)
    return copy


def apply_edits(
    tree: Path, edits: list[tuple[str, str, str]], version: str, times: int = 1
) -> None:
    """Each edit's text replaced in its file under ``tree``; a ``ProvisionError`` naming the
    file when a text is not found exactly ``times`` times (FerretDB changed: update the
    patch)."""
    for relative, old, new in edits:
        file = tree / relative
        text = file.read_text()
        found = text.count(old)
        if found != times:
            raise ProvisionError(
                f"FerretDB {version}'s {relative} is not the code sqlite-patch expects "
                f"(found {found} times, wanted {times}: {old.strip()[:80]!r}); "
                "update the patch for this version"
            )
        file.write_text(text.replace(old, new))


def _required_version(go_mod: Path, module: str) -> str:
    found = re.search(rf"^\s*{re.escape(module)} (v\S+)", go_mod.read_text(), re.MULTILINE)
    if found is None:
        raise ProvisionError(f"{go_mod} does not require {module}")
    return found.group(1)


def _make_writable(tree: Path) -> None:
    for path in [tree, *tree.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


def _remove(tree: Path) -> None:
    if tree.exists():
        _make_writable(tree)
        shutil.rmtree(tree)
