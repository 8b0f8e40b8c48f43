"""Runtime: compiled plans in, enrollments, actions and history out.

Never imports the syntax layer, the checker or the compiler: a stored plan
runs without them. `runtime.criteria` turns plan criteria into callables.
"""

from typing import Any

__all__ = ["Engine", "EngineError"]


def __getattr__(name: str) -> Any:
    # `wfdsl.runtime.Engine`, loaded on first use so that importing a
    # submodule such as `runtime.protocols` does not load the whole engine.
    if name in __all__:
        from wfdsl.runtime import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
