"""Renderers: pure functions of the Report. They never decide; the rules did."""
