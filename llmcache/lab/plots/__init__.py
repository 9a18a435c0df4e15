"""The notebooks' figures, one module per notebook, so that a notebook reads as question, method,
measurement, plot and conclusion.

Each function takes the derived tables (:mod:`llmcache.lab.tables`) or an experiment's JSON and
returns a matplotlib Figure. Titles and labels state what the plotted numbers show, computed
from them, never a figure typed in; sizes are chosen to stay legible at a report's 1,200 px.
"""
