"""The package build writes the front end's modules (js/build.py) before collecting files."""

import runpy
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version, build_data):
        runpy.run_path(str(Path(self.root) / "js" / "build.py"), run_name="build")["build"]()
