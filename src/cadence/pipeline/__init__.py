"""The health pipeline: from the store's frames to every figure of docs/metrics.md.

``compute_frames(frames, params)`` returns a :class:`HealthResult` (``compute_frames_at`` one
per as-of, sharing what does not depend on it); ``cadence.pipeline.views``
turns it into the manager and director dicts the reports render. The pipeline takes frames
(:class:`cadence.frames.StoreFrames`) and plain :class:`Params`, and knows no configuration, no
database and no command line: ``cadence.jobs.figures`` reads the store and the configuration for
it. docs/metrics.md documents the rules as implemented, the frames and their columns.
"""

from cadence.pipeline.params import Params
from cadence.pipeline.result import HealthResult
from cadence.pipeline.run import compute_frames, compute_frames_at

__all__ = ["HealthResult", "Params", "compute_frames", "compute_frames_at"]
