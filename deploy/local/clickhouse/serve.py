"""Serves ClickHouse 26.9 for the local stack: chdb-core's clickhouse-local with its
HTTP and native listeners open (there is no other way to install a current
ClickHouse on these machines: Debian has 18.16 only and no Docker engine runs).

usage: python serve.py CONFIG_DIR DATA_DIR

CONFIG_DIR holds config.xml (listeners, logger, caches) and users.xml (profiles),
rendered by scripts/start-clickhouse.sh; clickhouse-local reads ./config.xml when its
engine starts, so the working directory is set first.

The library is loaded without running `chdb/__init__.py`: that starts a throw-away
in-memory engine first, and the engine started after it never writes to its log
files. Here exactly one engine starts, in `_chdb.query(path=DATA_DIR)`, which opens
the listeners, then blocks in a query that sleeps one second per row forever (it does
not spin); SIGTERM ends the process.

`_chdb.query` is chdb's private entry point: the version is pinned (scripts/install.sh)
and checked here, and migrations/tests/server.rs fails if the server is not the pinned
release, so an upgrade that changes either is seen.
"""
import ctypes
import importlib.metadata
import importlib.util
import os
import sys
import types

EXPECTED_CHDB = "26.9.0"

config_dir, data_dir = (os.path.abspath(path) for path in sys.argv[1:3])
os.makedirs(data_dir, exist_ok=True)
os.chdir(config_dir)

installed = importlib.metadata.version("chdb-core")
if installed != EXPECTED_CHDB:
    sys.exit(f"chdb-core {installed} found, {EXPECTED_CHDB} expected (scripts/install.sh pins it)")

package_dir = importlib.util.find_spec("chdb").submodule_search_locations[0]  # runs no __init__
library = os.path.join(package_dir, "_chdb.abi3.so")
# As chdb/__init__.py does: RTLD_DEEPBIND keeps the library's own allocator.
ctypes.CDLL(library, mode=sys.getdlopenflags() | os.RTLD_DEEPBIND)
package = types.ModuleType("chdb")
package.__path__ = [package_dir]
sys.modules["chdb"] = package
spec = importlib.util.spec_from_file_location("chdb._chdb", library)
_chdb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(_chdb)

query = getattr(_chdb, "query", None)
if query is None:
    sys.exit("chdb._chdb.query is gone: this chdb-core cannot serve; pin the version scripts/install.sh names")

print(f"clickhouse (chdb-core {installed}) serving data in {data_dir}", flush=True)
query(
    "SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP; "
    "SELECT max(sleepEachRow(1)) FROM system.numbers "
    "SETTINGS function_sleep_max_microseconds_per_block = 0, max_block_size = 1",
    "CSV",
    path=data_dir,
)
sys.exit("clickhouse stopped serving")
