from maestro.cli import main

raise SystemExit(main())
