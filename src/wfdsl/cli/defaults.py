"""Default URLs of the service commands (`run`, `status`, `prune`, `ingest`), in a
module of their own so that the light commands need not import `run`'s."""

from __future__ import annotations

DEFAULT_STORE = "sqlite:///wfdsl-state.db"
DEFAULT_CRM = "sqlite:///wfdsl-crm.db"
