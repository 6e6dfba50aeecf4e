"""The read model's writer: processes hand their changes to `record_process_change`."""

from activities.records.activities import RecordActivities

__all__ = ["RecordActivities"]
