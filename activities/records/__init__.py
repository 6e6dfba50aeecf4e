"""The read model's writer: processes hand their changes to `record_process_change`."""
