"""The Textual screens: the setup wizard over setup/, the management screens over manage/. Views only:
nothing here that an answers run or lbctl would miss.

Imports: config, render, engines, pair, apply, setup, manage.
"""
