"""The language's and the plan's limits, in one place: numbers in, nothing out.

Every stage that enforces a limit (the parser, the checker, the plan reader)
imports it from here, so the numbers cannot drift apart.
"""

from __future__ import annotations

#: How deep blocks, parentheses and `not` may nest in source text.
MAX_NESTING = 64

#: The most digits one number literal may have.
MAX_DIGITS = 100

#: How deep criteria may nest in a plan. The compiler writes at most about 190 levels
#: (`not (… or … and not (…))` at the source's nesting limit); the engine compiles
#: criteria recursively, so much deeper trees would exhaust the stack.
MAX_CRITERIA_DEPTH = 200

#: The longest duration a step may wait: 5218 weeks, about 100 years; longer
#: ones overflow dates.
MAX_DURATION_WEEKS = 5218
MAX_DURATION_MINUTES = MAX_DURATION_WEEKS * 7 * 24 * 60
MAX_DURATION_SECONDS = MAX_DURATION_MINUTES * 60

#: The years in which a time to act (`once at`, `delay until` a date, `pause on`,
#: anchor dates) may fall, so that no time zone can overflow a date.
ACT_YEARS = (1900, 9000)
