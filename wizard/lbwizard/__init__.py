"""lbwizard: the appliance's set-up wizard, its apply engine, lbctl and the HTTPS API.

The folders follow the data flow, each importing only folders before it in this chain, and of those only
the ones its own docstring's "Imports:" line names (tests/unit/test_layout.py holds both to the code):

Chain: config -> render -> engines -> pair -> apply -> setup -> manage -> api -> tui

config (the one state, its declarations and rules) -> render (that state in the engines' and servers'
terms) -> engines (the running IPVS, HAProxy and the wire, read and nudged) -> pair (the HA pair as one
system) -> apply (steps and the one transaction) -> setup (the wizard's questions) and manage (day-2 changes
over the one commit path) -> api (the HTTPS API over manage) and tui (the screens). cli.py, the lbwizard
command, and launch.py, both commands' entry, sit on top; lbctl's is manage/lbctl.py.
"""
