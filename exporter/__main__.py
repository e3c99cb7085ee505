from exporter.commands.main import main

raise SystemExit(main())
