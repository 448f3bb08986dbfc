"""A query to hits: the candidate stages, fusion of dense and lexical lists, re-ranking."""
