"""Compute targets: this machine (``local``) and Dask clusters, in Azure ML v1's shape."""

from .cluster import ClusterInfo, ComputeTargetException, WorkerInfo
from .targets import (
    ComputeStatus,
    ComputeTarget,
    DaskAttachConfiguration,
    DaskCompute,
    DaskProvisioningConfiguration,
    LocalCompute,
)

__all__ = [
    "ClusterInfo",
    "ComputeStatus",
    "ComputeTarget",
    "ComputeTargetException",
    "DaskAttachConfiguration",
    "DaskCompute",
    "DaskProvisioningConfiguration",
    "LocalCompute",
    "WorkerInfo",
]
