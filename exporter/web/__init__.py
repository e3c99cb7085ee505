"""What the exporter shows people over HTTP: the landing page (``page``),
built from a view of the snapshot (``view``), its timeline chart
(``timeline``), and the calendar feed of expiries (``calendar``). Everything
comes from the data the process already holds; nothing here calls AWS."""
