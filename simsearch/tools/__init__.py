"""Looking inside the model: token views, input anatomy, words in context, pair comparison, maps, exports."""
