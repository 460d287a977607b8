"""Day-2 operations: lbctl and the management screens' operations, over the one commit path (edit ->
verify -> apply -> hand-over). May import config/, render/, engines/ and apply/; knows no screen.
"""
