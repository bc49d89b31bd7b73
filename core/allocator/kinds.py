"""The solver's own switches, stored as strings like every kind.

The domain's kinds (fleet type, vehicle kind, brand tier) live in `core.kinds`, shared with
storage and the pages; what is here only tunes how the allocator reads them.
"""

from enum import StrEnum


class SlaMode(StrEnum):
    """Hard: service must start by due_s. Soft: lateness allowed at a per-minute price."""

    HARD = "hard"
    SOFT = "soft"


class PremiumOnGig(StrEnum):
    """How a premium order treats gig couriers: a surcharge in the objective, or a bar."""

    SURCHARGE = "surcharge"
    BAR = "bar"
