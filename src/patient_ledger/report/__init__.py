"""Rendering: each view's columns declared once (:mod:`.tables`), and the text, CSV, JSON and
HTML made from them (:mod:`.render`, :mod:`._html`).

A shell: it reads the public views; the core imports it only in a notebook's display hook.
"""
