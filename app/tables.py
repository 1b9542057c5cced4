"""Imports every room's models so Base.metadata is complete (migrations, tests)."""

import app.approvals  # noqa: F401
import app.console.session_rows  # noqa: F401
import app.tokens  # noqa: F401
import ca.models  # noqa: F401
import db.audit  # noqa: F401
import db.jobs  # noqa: F401
import db.truth  # noqa: F401
import keys.models  # noqa: F401
import license_registry.models  # noqa: F401
import national_hub.models  # noqa: F401
import seal_service.models  # noqa: F401
