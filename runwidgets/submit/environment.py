"""Environment, CondaDependencies and RunConfiguration, in Azure ML v1's shape.

What they mean on one machine:

- a *user-managed* environment (``python.user_managed_dependencies = True``)
  runs the script with this interpreter, or with ``python.interpreter_path``;
- any other environment is a list of packages (pip requirements, or conda
  packages mapped to their pip names). The run gets a virtual environment built
  once per distinct list and cached (see ``venvs.py``); its build log is a file
  of the run;
- Docker images cannot be honoured here and are refused at submit.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from ..store.details import EnvironmentSpec

DEFAULT_CPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"  # Azure's default; not used here

# Conda package -> its pip name, where the two differ.
CONDA_TO_PIP = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "tensorflow-gpu": "tensorflow",
    "keras-gpu": "keras",
    "pytables": "tables",
    "msgpack-python": "msgpack",
    "pyqt": "PyQt5",
    "py-opencv": "opencv-python",
    "opencv": "opencv-python",
    "matplotlib-base": "matplotlib",
    "ruamel_yaml": "ruamel.yaml",
}
# Conda packages that are the toolchain itself: already here, or meaningless in a virtual environment.
CONDA_PROVIDED = {"python", "pip", "setuptools", "wheel", "conda", "nomkl"}
# Conda-only packages with no pip equivalent: refused with this advice.
CONDA_ONLY = {
    "cudatoolkit": "CUDA comes with the pip wheels of torch and tensorflow, or install it on the machine",
    "cudnn": "cuDNN comes with the pip wheels of torch and tensorflow, or install it on the machine",
    "mkl": "numpy's pip wheels bundle OpenBLAS; drop mkl",
    "mkl-service": "numpy's pip wheels bundle OpenBLAS; drop mkl-service",
    "libgcc": "it is a system library: install it with the operating system's package manager",
    "libgcc-ng": "it is a system library: install it with the operating system's package manager",
    "libstdcxx-ng": "it is a system library: install it with the operating system's package manager",
    "openmpi": "install MPI with the operating system's package manager",
    "nccl": "NCCL comes with torch's pip wheels",
    "r-base": "R is not a Python package: run R scripts with a user-managed environment",
    "pytorch-cuda": "CUDA comes with the pip wheels of torch",
}
_CONDA_SPEC = re.compile(r"^(?:(?P<channel>[\w.\-]+)::)?(?P<name>[A-Za-z0-9_.\-]+)\s*(?P<version>.*)$")


class CondaDependencies:
    """The packages of an environment: conda packages, pip packages, the Python version, channels."""

    def __init__(self, conda_dependencies_file_path: str | os.PathLike | None = None, _underlying: Any = None):
        self._conda: list[str] = []
        self._pip: list[str] = []
        self._pip_options: list[str] = []
        self._channels: list[str] = []
        self._python: str | None = None
        self.name = "project_environment"
        if conda_dependencies_file_path is not None:
            self._load(Path(conda_dependencies_file_path))

    @staticmethod
    def create(
        pip_packages: list[str] | None = None,
        conda_packages: list[str] | None = None,
        python_version: str | None = None,
        pin_sdk_version: bool = True,
        pip_indexurl: str | None = None,
        channels: list[str] | None = None,
        **kwargs: Any,
    ) -> CondaDependencies:
        cd = CondaDependencies()
        for p in pip_packages or []:
            cd.add_pip_package(p)
        for p in conda_packages or []:
            cd.add_conda_package(p)
        for c in channels or []:
            cd.add_channel(c)
        if python_version:
            cd.set_python_version(python_version)
        if pip_indexurl:
            cd.set_pip_option(f"--index-url {pip_indexurl}")
        return cd

    def _load(self, path: Path) -> None:
        import yaml

        if not path.is_file():
            raise FileNotFoundError(f"no conda specification at {path}")
        try:
            spec = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise ValueError(f"{path} is not a conda specification (YAML): {e}") from None
        if not isinstance(spec, dict):
            raise ValueError(f"{path} is not a conda specification: it must be a YAML mapping")
        self.name = str(spec.get("name") or self.name)
        self._channels = [str(c) for c in spec.get("channels") or []]
        for dep in spec.get("dependencies") or []:
            if isinstance(dep, dict) and "pip" in dep:
                for p in dep["pip"] or []:
                    self.add_pip_package(str(p))
            elif isinstance(dep, str):
                self.add_conda_package(dep)
            else:
                raise ValueError(f"{path}: cannot read the dependency {dep!r}")

    def add_pip_package(self, pip_package: str) -> None:
        pip_package = _text(pip_package, "pip package")
        if pip_package.startswith("-"):
            self.set_pip_option(pip_package)
        elif pip_package not in self._pip:
            self._pip.append(pip_package)

    def add_conda_package(self, conda_package: str) -> None:
        conda_package = _text(conda_package, "conda package")
        m = _CONDA_SPEC.match(conda_package)
        if m and m.group("name") == "python" and m.group("version"):  # "python=3.8" names the version
            self._python = m.group("version").lstrip("=")
        elif conda_package not in self._conda:
            self._conda.append(conda_package)

    def remove_pip_package(self, pip_package: str) -> None:
        self._pip = [p for p in self._pip if _base_name(p) != _base_name(pip_package)]

    def remove_conda_package(self, conda_package: str) -> None:
        self._conda = [p for p in self._conda if _base_name(p) != _base_name(conda_package)]

    def add_channel(self, channel: str) -> None:
        if channel not in self._channels:
            self._channels.append(_text(channel, "channel"))

    def set_pip_option(self, pip_option: str) -> None:
        if pip_option not in self._pip_options:
            self._pip_options.append(_text(pip_option, "pip option"))

    def set_python_version(self, version: str) -> None:
        self._python = _text(version, "python version")

    def get_python_version(self) -> str | None:
        return self._python

    @property
    def conda_packages(self) -> list[str]:
        return list(self._conda)

    @property
    def pip_packages(self) -> list[str]:
        return list(self._pip)

    @property
    def pip_options(self) -> list[str]:
        return list(self._pip_options)

    def serialize_to_string(self) -> str:
        import yaml

        deps: list[Any] = [f"python={self._python or _this_python()}", *self._conda]
        pip = [*self._pip_options, *self._pip]
        if pip:
            deps += ["pip", {"pip": pip}]
        return yaml.safe_dump({"name": self.name, "channels": self._channels or ["conda-forge"], "dependencies": deps})

    def save(self, path: str | os.PathLike) -> str:
        Path(path).write_text(self.serialize_to_string())
        return str(path)

    def _pip_requirements(self) -> list[str]:
        """Every package as a pip requirement; a conda-only package raises ValueError saying what to do."""
        out = []
        for spec in self._conda:
            m = _CONDA_SPEC.match(spec.strip())
            if not m:
                raise ValueError(f"cannot read the conda package {spec!r}")
            name, version = m.group("name").lower(), m.group("version").strip()
            if name in CONDA_PROVIDED:
                continue
            if name in CONDA_ONLY:
                raise ValueError(
                    f"conda package {spec!r} has no pip equivalent, and environments here are built with pip:"
                    f" {CONDA_ONLY[name]}. Or set env.python.user_managed_dependencies = True to run in an"
                    " environment you prepared"
                )
            out.append(CONDA_TO_PIP.get(name, name) + _pip_version(version))
        # Azure's own packages (azureml-defaults, azureml-mlflow, ...) are what runwidgets stands in for
        return out + [p for p in self._pip if not _base_name(p).startswith("azureml")]

    def __repr__(self) -> str:
        return f"CondaDependencies(conda={self._conda}, pip={self._pip}, python={self._python})"


class PythonSection:
    """``env.python``: who manages the packages, which interpreter, which packages."""

    def __init__(self) -> None:
        self.user_managed_dependencies = False
        self.interpreter_path = "python"
        self.conda_dependencies: CondaDependencies = CondaDependencies()
        self.conda_dependencies_file: str | None = None
        self.base_conda_environment: str | None = None


class DockerSection:
    """``env.docker``: kept so that notebooks setting it run; a Docker image is refused at submit."""

    def __init__(self) -> None:
        self.enabled = False
        self.base_image: str | None = DEFAULT_CPU_IMAGE
        self.base_dockerfile: str | None = None
        self.base_image_registry: Any = None
        self.shm_size: str | None = None
        self.arguments: list[str] = []


class Environment:
    """What a submitted script runs in: ``Environment(name)``, then ``env.python`` and ``env.environment_variables``."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"Environment needs a name, got {name!r}")
        if kwargs:
            raise TypeError(f"Environment() got unexpected arguments {sorted(kwargs)}")
        self.name = name
        self.version: str | None = None
        self.python = PythonSection()
        self.docker = DockerSection()
        self.environment_variables: dict[str, str] = {}
        self.inferencing_stack_version: str | None = None

    # -- constructors ------------------------------------------------------------
    @staticmethod
    def from_pip_requirements(name: str, file_path: str | os.PathLike, pip_version: str | None = None) -> Environment:
        """An environment with the packages of a ``requirements.txt``."""
        path = Path(file_path)
        if not path.is_file():
            raise FileNotFoundError(f"no pip requirements file at {path}")
        env = Environment(name)
        for line in path.read_text().splitlines():
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                env.python.conda_dependencies.add_pip_package(line)
        if pip_version:
            env.python.conda_dependencies.add_pip_package(f"pip=={pip_version}")
        return env

    @staticmethod
    def from_conda_specification(name: str, file_path: str | os.PathLike) -> Environment:
        """An environment with the packages of a conda ``environment.yml``."""
        env = Environment(name)
        env.python.conda_dependencies = CondaDependencies(file_path)
        env.python.conda_dependencies_file = str(file_path)
        return env

    @staticmethod
    def from_existing_conda_environment(name: str, conda_environment_name: str) -> Environment:
        raise ValueError(
            f"from_existing_conda_environment({conda_environment_name!r}): point a user-managed environment at"
            " that environment's interpreter instead: env.python.user_managed_dependencies = True;"
            " env.python.interpreter_path = '/path/to/envs/NAME/bin/python'"
        )

    # -- the workspace's registry -----------------------------------------------------
    def register(self, workspace: Any) -> Environment:
        """Save the environment in the workspace under its name, as a new version."""
        folder = _registry(workspace) / _file_name(self.name)
        folder.mkdir(parents=True, exist_ok=True)
        versions = [int(p.stem) for p in folder.glob("*.json") if p.stem.isdigit()]
        env = copy.deepcopy(self)
        env.version = str(max(versions, default=0) + 1)
        (folder / f"{env.version}.json").write_text(json.dumps(env._to_json(), indent=2))
        return env

    @staticmethod
    def get(workspace: Any, name: str, version: str | None = None, label: str | None = None) -> Environment:
        """A registered environment (the latest version unless ``version``).

        Azure's curated environments (``AzureML-...``) are images of a known set
        of packages; here the kernel's own environment stands in for them, as a
        user-managed environment.
        """
        folder = _registry(workspace) / _file_name(name)
        versions = sorted((int(p.stem) for p in folder.glob("*.json") if p.stem.isdigit()), reverse=True)
        if version is not None:
            versions = [v for v in versions if str(v) == str(version)]
        if versions:
            return Environment._from_json(json.loads((folder / f"{versions[0]}.json").read_text()))
        if name.lower().startswith("azureml-"):
            env = Environment(name)
            env.python.user_managed_dependencies = True
            return env
        raise KeyError(f"no environment {name!r}{f' version {version}' if version else ''} in {workspace!r}")

    @staticmethod
    def list(workspace: Any) -> dict[str, Environment]:  # noqa: A003 - Azure's name
        root = _registry(workspace)
        names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        out = {}
        for folder in names:
            env = Environment.get(workspace, json.loads(next((root / folder).glob("*.json")).read_text())["name"])
            out[env.name] = env
        return out

    def _to_json(self) -> dict:
        cd = self.python.conda_dependencies
        return {
            "name": self.name,
            "version": self.version,
            "user_managed": self.python.user_managed_dependencies,
            "interpreter_path": self.python.interpreter_path,
            "conda": cd.conda_packages,
            "pip": cd.pip_packages,
            "pip_options": cd.pip_options,
            "python_version": cd.get_python_version(),
            "environment_variables": sorted(self.environment_variables),  # names only: values may be secrets
        }

    @staticmethod
    def _from_json(data: dict) -> Environment:
        env = Environment(data["name"])
        env.version = data.get("version")
        env.python.user_managed_dependencies = bool(data.get("user_managed"))
        env.python.interpreter_path = data.get("interpreter_path") or "python"
        env.python.conda_dependencies = CondaDependencies.create(
            pip_packages=data.get("pip"), conda_packages=data.get("conda"), python_version=data.get("python_version")
        )
        for option in data.get("pip_options") or []:
            env.python.conda_dependencies.set_pip_option(option)
        return env

    # -- what the supervisor needs -------------------------------------------------------
    def _spec(self) -> EnvironmentSpec:
        """The environment as recorded with the run; refuses what cannot run here, saying why."""
        d = self.docker
        if d.enabled or d.base_dockerfile or (d.base_image and d.base_image != DEFAULT_CPU_IMAGE):
            image = d.base_dockerfile and "a Dockerfile" or d.base_image
            raise ValueError(
                f"environment {self.name!r} asks for a Docker image ({image}): runs here are local processes."
                " Describe the packages instead (CondaDependencies, from_pip_requirements) or use a"
                " user-managed environment"
            )
        if self.python.user_managed_dependencies:
            path = self.python.interpreter_path
            return EnvironmentSpec(name=self.name, user_managed=True, interpreter=_interpreter(path))
        cd = self.python.conda_dependencies
        return EnvironmentSpec(
            name=self.name,
            user_managed=False,
            requirements=cd._pip_requirements(),
            pip_options=cd.pip_options,
            python_version=cd.get_python_version(),
        )

    def __repr__(self) -> str:
        how = "user-managed" if self.python.user_managed_dependencies else "managed"
        return f"Environment(name={self.name!r}, {how}, version={self.version!r})"


class RunConfiguration:
    """``ScriptRunConfig.run_config``: the environment, target, time limit and variables of a run."""

    def __init__(self, script: str | None = None, arguments: list | None = None, **kwargs: Any) -> None:
        self.script = script
        self.arguments = list(arguments or [])
        self.environment = Environment("default-environment")
        self.environment.python.user_managed_dependencies = True  # a plain ScriptRunConfig runs here, as is
        self.target = "local"
        self.max_run_duration_seconds: float | None = None
        self.node_count = 1
        conda = kwargs.pop("conda_dependencies", None)
        if conda is not None:
            self.environment.python.user_managed_dependencies = False
            self.environment.python.conda_dependencies = conda
        for k in ("framework", "communicator"):
            kwargs.pop(k, None)
        if kwargs:
            raise TypeError(f"RunConfiguration() got unexpected arguments {sorted(kwargs)}")

    @property
    def environment_variables(self) -> dict[str, str]:
        return self.environment.environment_variables

    @environment_variables.setter
    def environment_variables(self, value: dict[str, str]) -> None:
        self.environment.environment_variables = dict(value)


def _interpreter(path: str) -> str:
    if path in ("python", "python3", "", None):
        return sys.executable  # "the Python that runs this notebook"
    p = Path(path).expanduser()
    if not p.is_file() or not os.access(p, os.X_OK):
        raise FileNotFoundError(f"python.interpreter_path {path!r} is not an executable file")
    return str(p)


def _registry(workspace: Any) -> Path:
    return Path(workspace.path) / "environments"


def _file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:200] or "_"


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TypeError(f"{what} must be a non-empty str, got {value!r}")
    return value.strip()


def _base_name(spec: str) -> str:
    m = _CONDA_SPEC.match(spec.strip())
    return re.split(r"[<>=!~\[ ]", m.group("name") if m else spec, maxsplit=1)[0].lower()


def _pip_version(version: str) -> str:
    """A conda version constraint in pip's syntax: ``=1.2`` means 1.2.*, ``==1.2`` exactly, ``>=1`` as is."""
    v = version.replace(" ", "")
    if not v:
        return ""
    if v.startswith("=") and not v.startswith("=="):
        v = v[1:]
        return f"=={v}" if v.endswith("*") else f"=={v}.*"
    if v[0].isdigit():
        return f"=={v}.*"
    return v


def _this_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"
