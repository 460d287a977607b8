"""The setup wizard without a screen: the questions (ids, prompts, kinds, defaults, branches), the answers
file's own settings and its schema, the flow that turns answers into a config, the live system's defaults,
and what to tell the admin next. The screens (tui/) and answers files drive the very same flow.

Imports: config, render, pair.
"""
