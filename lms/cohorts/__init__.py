"""How a facilitator's cohort is doing: per run, trainees by activities with completion,
attendance and review state, and the same as CSV."""
