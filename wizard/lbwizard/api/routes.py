"""The API's endpoints, one table: each says its method, path, what it does, whether it changes the unit,
the schema of its body and of its answer. The app routes from it and openapi.py documents from it, so
the document lists exactly what is served. A handler is thin: it calls the same operation lbctl calls.
"""

from __future__ import annotations

from .api_settings import API_SETTINGS_ENDPOINTS
from .backups import BACKUP_ENDPOINTS
from .certificates import CERTIFICATE_ENDPOINTS
from .charts import CHART_ENDPOINTS
from .people import PEOPLE_ENDPOINTS
from .scripts import SCRIPT_ENDPOINTS
from .services import SERVICE_ENDPOINTS
from .tokens import TOKEN_ENDPOINTS
from .unit import UNIT_ENDPOINTS

BASE = "/api/v1"
ENDPOINTS = [
    *SERVICE_ENDPOINTS,
    *UNIT_ENDPOINTS,
    *TOKEN_ENDPOINTS,
    *BACKUP_ENDPOINTS,
    *CERTIFICATE_ENDPOINTS,
    *API_SETTINGS_ENDPOINTS,
    *CHART_ENDPOINTS,
    *SCRIPT_ENDPOINTS,
    *PEOPLE_ENDPOINTS,
]
