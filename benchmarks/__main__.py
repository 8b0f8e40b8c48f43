"""`python -m benchmarks`: run every measurement and print the table."""

from benchmarks.run import main

raise SystemExit(main())
