"""The config in other parties' terms: the Ansible roles' variables (keepalived, HAProxy, the unit's own
services), the real servers' own set-up scripts, and each value of lbwizard's own files as its reader takes
it (quoting.py, the second wall). Pure functions of config/; knows no running engine.

Imports: config.
"""
