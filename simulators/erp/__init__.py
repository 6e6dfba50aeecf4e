"""ERP simulator (SAP S/4HANA-style): business objects Customer, Supplier and Project with their
events to docflow and docflow's messages back, the transaction history case assembly reads, and
the business processes docflow's lifecycle triggers start (`POST /api/processes`).
"""

from simulators.erp.api import create_app
from simulators.erp.sim import ErpConfig, ErpSim, Transaction

__all__ = ["ErpConfig", "ErpSim", "Transaction", "create_app"]
