"""Schema defects (MDB6xx): a migration history with one defect per rule, the model it drifted
from, code that still uses a dropped column and a seed command that is not idempotent."""
