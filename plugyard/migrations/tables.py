"""Every table the migrations create, in one metadata: history's (calls with their source, rollups, search
events, decision evidence), the assistant's.

The migrations own the schema of the one database; each feature declares its tables in its own
package, and this module gathers them so Alembic (and the drift test) compare against all of them.
"""

from plugyard.assistant import models as _assistant_models  # noqa: F401
from plugyard.history import search_models as _search_models  # noqa: F401
from plugyard.history.models import metadata
from plugyard.history.service import evidence_models as _evidence_models  # noqa: F401

__all__ = ["metadata"]
