"""The setup wizard without a screen: the questions (ids, prompts, defaults, branches) and the flow that
turns answers into a config, the live system's defaults, and what to tell the admin next. May import
config/ and render/; the screens (tui/) and answers files drive the very same flow.
"""
