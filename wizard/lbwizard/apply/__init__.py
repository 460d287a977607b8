"""Making a config real: steps that do and undo themselves, run as one transaction.

plan.plan() lists the steps (network with pyroute2, kernel settings, firewall with python-iptables,
files, the hand-over to the engines' Ansible roles); transaction.run() applies them all or none;
state pictures what an apply touches, so rollback can restore it and prove it did. Knows no screen and
no command line.

Imports: config, render, engines, pair.
"""
