"""CRM / source-system simulator: receives docflow's signed status reports, keeps records."""

from simulators.crm.api import CrmConfig, CrmSim, create_app

__all__ = ["CrmConfig", "CrmSim", "create_app"]
