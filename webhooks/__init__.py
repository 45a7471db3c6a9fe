"""The webhook sidecar: a small Starlette app that providers call.

Routes are thin: they verify, store, apply through kaimen_core and answer fast.
"""
