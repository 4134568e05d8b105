"""MLflow inside runwidgets: plain MLflow calls land in a local workspace's runs.

Registered through MLflow's plugin entry points (see pyproject.toml):

- ``mlflow.tracking_store`` and ``mlflow.artifact_repository`` for the URI
  scheme ``runwidgets://`` (``ws.get_mlflow_tracking_uri()``), over the embedded
  SQLite store;
- ``mlflow.project_backend`` as ``azureml`` and ``runwidgets``: an MLflow
  Project runs as a submitted run.
"""
