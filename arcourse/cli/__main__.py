"""`python -m arcourse.cli ...`: the same as the `arcourse` command."""
import sys

from arcourse.cli import main

sys.exit(main())
