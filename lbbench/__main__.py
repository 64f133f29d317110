import sys

from lbbench.cli import main

sys.exit(main())
