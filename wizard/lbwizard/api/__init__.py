"""The HTTPS API (`lbwizard serve`): lbctl's operations over HTTP, for scripts and the web console.

A change runs the installed lbctl in a process of its own (--json: its output is the API's body), so it
takes the one path every change takes (lock, verify, transaction, hand-over, history, pair) and the
server's memory stays flat; reads run here, read-only, through manage/operations.py and what lbctl's
reads call. Nothing imports it but the lbwizard command (cli.py).

Imports: config, engines, manage.
"""
