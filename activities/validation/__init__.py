"""Validation of a signing request against this environment's configuration bundle."""

from activities.validation.activities import ValidationActivities
from activities.validation.options import VALIDATE

__all__ = ["VALIDATE", "ValidationActivities"]
