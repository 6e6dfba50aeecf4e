"""OpenText Core Signature: e-signature requests, their status, signed evidence and callbacks."""

from activities.core_signature.activities import CoreSignatureActivities

__all__ = ["CoreSignatureActivities"]
