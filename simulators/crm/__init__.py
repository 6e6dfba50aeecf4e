"""CRM / source-system simulator: receives docflow's signed status reports, keeps records.

Its app also serves the notification service (`simulators.notifications`) on the same port.
"""

from simulators.crm.api import create_app
from simulators.crm.sim import CrmConfig, CrmSim

__all__ = ["CrmConfig", "CrmSim", "create_app"]
