"""docflow's shared vocabulary: the pydantic models that cross Temporal boundaries,
settings with environment profiles, routing rules, and the document store."""
