"""Azure ML v1's module names, as aliases of ours: the one place they are listed.

Two spellings work, so that a notebook or a training script needs only its
imports changed:

- the short one, ``azureml.core`` -> ``runwidgets`` (``runwidgets.run``,
  ``runwidgets.hyperdrive.policy``, ...);
- the literal one, ``azureml`` -> ``runwidgets`` (``runwidgets.core.run``,
  ``runwidgets.train.hyperdrive.policy``, ``runwidgets.widgets``, ...).

An alias is the real module under a second name (``runwidgets.run is
runwidgets.tracking.run``), imported only when asked for: ``import
runwidgets`` stays as light as it was.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types

# Alias -> the real module. None: a namespace that only holds other aliases.
MODULES: dict[str, str | None] = {
    "runwidgets.run": "runwidgets.tracking.run",
    "runwidgets.workspace": "runwidgets.tracking.workspace",
    "runwidgets.experiment": "runwidgets.tracking.experiment",
    "runwidgets.script_run_config": "runwidgets.submit.config",
    "runwidgets.environment": "runwidgets.submit.environment",
    "runwidgets.runconfig": "runwidgets.submit.environment",
    "runwidgets.conda_dependencies": "runwidgets.submit.environment",
    "runwidgets.hyperdrive.runconfig": "runwidgets.submit.sweep",
    "runwidgets.hyperdrive.run": "runwidgets.submit.sweep",
    "runwidgets.hyperdrive.sampling": "runwidgets.submit.sampling",
    "runwidgets.hyperdrive.parameter_expressions": "runwidgets.submit.sampling",
    "runwidgets.hyperdrive.policy": "runwidgets.submit.policy",
    "runwidgets.compute_target": "runwidgets.compute.cluster",  # azureml.core.compute_target.ComputeTargetException
    "runwidgets.train": None,
}
# Alias prefix -> real prefix, for the module and everything under it.
PREFIXES: dict[str, str] = {
    "runwidgets.core": "runwidgets",
    "runwidgets.widgets": "runwidgets",
    "runwidgets.train.hyperdrive": "runwidgets.hyperdrive",
    "runwidgets.train.automl": "runwidgets.automl",
}


def target(name: str) -> str | None:
    """The real module an alias stands for; ``name`` itself when it is not an alias."""
    if name in MODULES:
        return MODULES[name]
    for alias, real in PREFIXES.items():
        if name == alias or name.startswith(alias + "."):
            return target(real + name[len(alias) :])
    return name


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, real: str | None) -> None:
        self.real = real

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        if self.real is None:
            module = types.ModuleType(spec.name, "Azure ML's module names, aliased by runwidgets.")
            module.__path__ = []
            return module
        module = importlib.import_module(self.real)
        self.spec = module.__spec__  # the import system overwrites it; exec_module puts it back
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        if self.real is not None:
            module.__spec__ = self.spec


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target_module=None):  # noqa: ANN001 - the finder protocol
        if not fullname.startswith("runwidgets."):
            return None
        real = target(fullname)
        if real == fullname:
            return None
        # A package alias needs a __path__ for its own aliases below it; a module alias must not gain one.
        package = real is None or hasattr(importlib.import_module(real), "__path__")
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(real), is_package=package)


def install() -> None:
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())
