"""The running engines and the wire: HAProxy's runtime API, the kernel's IPVS table, this unit's links,
probes of the real servers; and status and diagnose, which read them. The only folder that talks to
them, through one object chosen at start-up (access.for_run: live, or a dry run that asks nobody).

Imports: config, render.
"""
