"""Per-update machinery: ordering, de-duplication, the citizen, flood guard, DB session."""
