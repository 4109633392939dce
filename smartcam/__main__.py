import sys

from smartcam.cli import main

sys.exit(main())
