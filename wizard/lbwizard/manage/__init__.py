"""Day-2 operations: lbctl and the management screens' operations, over the one commit path (edit ->
verify -> guards -> apply -> hand-over); the boot apply, backups and restores. Knows no screen.

Imports: config, render, engines, pair, apply.
"""
