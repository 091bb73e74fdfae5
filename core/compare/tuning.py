"""Work sizes of a comparison: how much one numpy call, one pool task and one page drop cover.

The other modules of the package read these through this module at call time (never
copying them with ``from ... import``), so a test can shrink them here to force many chunks
and parts out of a small checkpoint.
"""
from __future__ import annotations

CHUNK_ELEMENTS = 1 << 18   # per numpy call: 1 MiB of float32; fewer, larger calls beat
                           # smaller L2-sized ones (threads wait on the GIL between calls)
PART_BYTES = 32 << 20      # large variables are split in parts of this size across threads
RELEASE_BYTES = 8 << 20    # mapped pages are dropped behind the scan every this many bytes
BATCH_BYTES = 32 << 20     # small variables go to the pool in batches of up to this size
                           # (fewer hand-offs and bigger page drops), at least 8 per thread
