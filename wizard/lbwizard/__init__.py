"""lbwizard: the appliance's set-up wizard, its apply engine and lbctl.

The folders follow the data flow, each importing only those before it:
config (the one state and its rules) -> render (that state in the engines' and servers' terms) ->
engines (the running IPVS, HAProxy and the wire, read and nudged) -> apply (steps and the one
transaction) -> manage (day-2 changes over the one commit path) and setup (the wizard's questions)
-> tui (the screens). cli.py, the lbwizard command, sits on top; lbctl's is manage/lbctl.py.
"""
