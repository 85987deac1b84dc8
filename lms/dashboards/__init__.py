"""What the one dashboard shows each person: their own courses and, for staff, the panels
of the work their roles hold (runs, a region's requests, the training office's queue).

Read-only: it reads other domains through their models and services and writes nothing.
"""
