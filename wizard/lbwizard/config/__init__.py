"""The one state and its rules: the declarations of every setting and the kinds of their values, the strict
reader of YAML documents, the model (appliance.yaml), verify (the rules between settings), the guards every
change path applies, edits, history and the files it lives in. Plain data and pure checks.

Imports: nothing of lbwizard's.
"""
