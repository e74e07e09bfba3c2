import sys

from msit_lite.cli import main

sys.exit(main())
