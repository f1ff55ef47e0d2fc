"""Tool search's ranking: tokens, BM25F over the tools' text, associations learnt from search
sequences, and the ranker that combines them with the caller's own preferences. Pure Python, no SQL:
the history plugin feeds it events and the router's posteriors (see docs/architecture.md, "Tool search")."""
