"""Runtime: compiled plans in, enrollments, actions and history out.

Never imports the syntax layer, the checker or the compiler: a stored plan
runs without them. `runtime.criteria` turns plan criteria into callables.
"""
