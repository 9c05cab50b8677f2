"""The health pipeline: from stored calendar events to every figure of spec METRICS.md.

``compute(engine, config, as_of)`` returns a :class:`HealthResult`; ``cadence.pipeline.views``
turns it into the manager and director dicts the reports render. docs/metrics.md documents the
rules as implemented, the frames and their columns.
"""

from cadence.pipeline.result import HealthResult
from cadence.pipeline.run import compute, compute_frames

__all__ = ["HealthResult", "compute", "compute_frames"]
