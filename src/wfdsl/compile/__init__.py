"""Compiler: checked `.wf` files in, a plan out."""

from __future__ import annotations

from wfdsl.compile.compiler import CompileFailed, compile_project, load_plans

__all__ = ["CompileFailed", "compile_project", "load_plans"]
