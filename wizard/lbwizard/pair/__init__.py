"""The HA pair as one system: its SSH identity (keys), what the two units share (shared), the channel to the
peer's lbctl (channel), one change made on both units (sync), both units in one view (view) and the catch-up
of a unit back from off (catch_up).

Imports: config, render.
"""
