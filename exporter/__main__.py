from exporter.commands.daemon import main

raise SystemExit(main())
