"""Looking inside the model: token views, pair comparison, maps, embeddings exported."""
