"""MLflow artifacts of a local workspace's runs: ``runwidgets:///ws/runs/<run_id>`` is the run's folder."""

from __future__ import annotations

from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

from .uri import local_path


class WorkspaceArtifactRepository(LocalArtifactRepository):
    """Artifacts as files of the run: ``mlflow.log_artifact`` lands where ``run.get_file_names()`` reads."""

    def __init__(self, artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None) -> None:
        super().__init__(local_path(artifact_uri).as_uri(), tracking_uri, registry_uri)
