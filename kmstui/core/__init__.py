"""The core: loading, the event model, the index, the filter language and the summaries.

Nothing here imports Textual (a test checks), so it serves scripts and the headless
commands as well as the explorer.
"""
