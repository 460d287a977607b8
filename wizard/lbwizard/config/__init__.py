"""The one state and its rules: the model (appliance.yaml), parsing of addresses, verify, edits, history
and the files it lives in. Plain data and pure checks; imports nothing else of lbwizard's.
"""
