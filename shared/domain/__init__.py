"""Domain rules more than one service applies (booking, workflow, projections)."""
