"""Training a run in its folder: the loop, its session (new, resume, restart, continue), loggers and progress."""
