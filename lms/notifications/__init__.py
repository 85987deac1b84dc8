"""Telling people what happened: an in-app list and email (through the job queue),
listening to the other domains' signals; each person chooses per kind whether to get email."""
