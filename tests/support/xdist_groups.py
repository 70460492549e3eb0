"""Which tests share one pytest-xdist worker, and the scheduler that keeps them there.

``make test`` runs the suite with ``-n auto --dist loadgroup``. Two sets of tests go to one
``xdist_group`` each, that is to one worker, one after another (``pytest_itemcollected``):

* ``serial``: several processes or hosts, many threads at once, timing. They never run beside
  each other, only beside ordinary tests of the other workers;
* the tests that use the llama.cpp server (``llama_server``), so that the run starts one: a
  second would load the model again and compete for the same cores.

Why this module and not pytest-xdist's own ``loadgroup``: its worker appends the group to the
test's id (``item._nodeid = "<nodeid>@<group>"``) and its controller reads the group back from
the ids the workers report. pytest 9 builds ``item.nodeid`` from ``item._id`` and never reads
``_nodeid``, so the ids arrive bare and every test is scheduled on its own. Here each worker
writes the groups of the tests it collected to a file (in a folder the controller names in
``workerinput``) before it reports its collection, and the controller's ``GroupScheduling``
reads that file: a group is one unit of work for one worker, any other test a unit of its own.
Workers must share the controller's disk: ``-n`` (local processes), not ``--tx ssh=...``.

``tests/app/test_xdist_groups.py`` runs a small suite with ``-n 2`` to check that it holds.
"""
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from xdist.scheduler import LoadGroupScheduling

#: ``workerinput`` key: the folder where each worker writes ``<worker id>.json``.
_FOLDER_KEY = "storehouse_group_folder"
_FOLDER = pytest.StashKey[Path]()


def pytest_itemcollected(item):
    """Mark ``serial`` tests ``xdist_group("serial")``, and the other tests that use the llama.cpp
    server ``xdist_group("llama-server")``.

    Only in an xdist worker: ``xdist_group`` is pytest-xdist's marker, unknown (and so an error
    under ``--strict-markers``) when it is not loaded, and meaningless in one process.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    if item.get_closest_marker("serial"):
        item.add_marker(pytest.mark.xdist_group("serial"))
    elif "llama_server" in getattr(item, "fixturenames", ()):
        item.add_marker(pytest.mark.xdist_group("llama-server"))


def group_of(item):
    """The group of ``item`` as pytest-xdist names it: its ``xdist_group`` names, sorted, joined
    by ``_``; ``None`` when it has none."""
    names = {str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
             for mark in item.iter_markers("xdist_group")}
    return "_".join(sorted(names)) or None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session):
    """In a ``loadgroup`` worker, write ``{nodeid: group}`` for the grouped tests collected.

    ``tryfirst``: the file must be complete before pytest-xdist's own hook reports the collection
    to the controller, which may then schedule at once. Written aside and renamed, so the
    controller never reads half a file.
    """
    folder = getattr(session.config, "workerinput", {}).get(_FOLDER_KEY)
    if folder is None:
        return
    groups = {item.nodeid: group for item in session.items if (group := group_of(item))}
    path = Path(folder, f"{session.config.workerinput['workerid']}.json")
    path.with_suffix(".tmp").write_text(json.dumps(groups))
    path.with_suffix(".tmp").replace(path)


def _group_folder(config):
    """The controller's folder for the workers' group files, made on first use."""
    if _FOLDER not in config.stash:
        config.stash[_FOLDER] = Path(tempfile.mkdtemp(prefix="storehouse-xdist-groups-"))
    return config.stash[_FOLDER]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """Under ``--dist loadgroup``, tell each worker where to write its groups."""
    if node.config.getvalue("dist") == "loadgroup":
        node.workerinput[_FOLDER_KEY] = str(_group_folder(node.config))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` schedules with ``GroupScheduling``; other modes are pytest-xdist's."""
    if config.getvalue("dist") == "loadgroup":
        return GroupScheduling(config, log, _group_folder(config))
    return None


def pytest_unconfigure(config):
    """Remove the controller's folder of group files, if the run made one."""
    if _FOLDER in config.stash:
        shutil.rmtree(config.stash[_FOLDER], ignore_errors=True)


class GroupScheduling(LoadGroupScheduling):
    """pytest-xdist's ``loadgroup``, the groups read from the workers' files instead of the ids.

    Each group is one unit of work, sent whole to one worker, which runs its tests one after
    another; every other test is a unit of its own, given to whichever worker runs low, as
    ``loadgroup`` does. Units are handed out largest first (pytest-xdist's
    ``--loadscope-reorder``, on by default), so the groups start early and the other workers
    share the rest.

    :param folder: where each worker wrote ``<worker id>.json`` before reporting its collection.
    """

    def __init__(self, config, log, folder):
        super().__init__(config, log)
        self.folder = folder
        self.groups = None

    def schedule(self):
        """Read the groups (first call: every worker has reported its collection), then schedule.

        :raises RuntimeError: a worker's file is missing: it ran without this plugin, and its
            groups would silently be spread over the workers.
        """
        if self.groups is None:
            self.groups = {}
            for node in self.registered_collections:
                path = Path(self.folder, f"{node.gateway.id}.json")
                if not path.exists():
                    raise RuntimeError(f"worker {node.gateway.id} wrote no test groups to {path}")
                self.groups.update(json.loads(path.read_text()))
        super().schedule()

    def _split_scope(self, nodeid):
        """The unit ``nodeid`` belongs to: its group's name, or else the test's own id (pytest-xdist's
        ``<nodeid>@<group>`` ids, should they come back, still name their group)."""
        return self.groups.get(nodeid) or super()._split_scope(nodeid)
