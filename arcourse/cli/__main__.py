"""`python -m arcourse.cli ...` runs the command line, as the `arcourse` script does."""
import sys

from arcourse.cli import main

sys.exit(main())
