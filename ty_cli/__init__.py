"""The console script ``tyctl``: the composition root that may import the graph, the web app and the core."""
