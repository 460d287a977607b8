"""The config in other parties' terms: the Ansible roles' variables (keepalived, HAProxy) and the real
servers' own set-up scripts. Pure functions of config/; knows no running engine.
"""
