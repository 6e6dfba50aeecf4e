"""Forms-portal simulator: submitted forms (PDF), listed by case reference (port 8106).

docflow's case assembly lists a case's submissions and downloads each one's PDF.
"""

from simulators.forms_portal.api import create_app
from simulators.forms_portal.sim import FormsPortalConfig, FormsPortalSim, FormsSeed

__all__ = ["FormsPortalConfig", "FormsPortalSim", "FormsSeed", "create_app"]
